import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../lib/logger.ts';
import { createTestClock } from '../../sandboxes/lib/clock.ts';
import { PLATFORM_PARTNER_CREDENTIALS, SANDBOX_CUSTOMERS } from '../../sandboxes/manifest.ts';
import { startPlatform, type RunningPlatform } from '../../scripts/platform.ts';
import { gql } from '../gateway/helpers.ts';
import { scaled, waitBudget } from '../support/time.ts';

/**
 * KYC webhooks end to end (issue 10), the platform as npm start wires it (in-process, free ports,
 * PGlite): a check is created at the KYC sandbox over its API, the sandbox clock passes its
 * completion, the sandbox's pump sends the signed check.completed to identity's /webhooks/onfido,
 * and the customer's `kyc` read through the gateway changes, with the completion time that only
 * the webhook carries.
 */
const clock = createTestClock(new Date());
const clara = SANDBOX_CUSTOMERS.find((c) => c.displayName === 'Clara')!;
let platform: RunningPlatform;

beforeAll(async () => {
  platform = await startPlatform({
    ports: 'free',
    env: { PGLITE_DIR: 'memory://', DATABASE_URL: undefined },
    logger: createLogger('e2e-kyc', 'silent'),
    now: clock.now,
  });
}, scaled(120_000));

afterAll(async () => {
  await platform?.close();
});

const KYC = `{ me { kyc { status completedAt checks { status result } } } }`;
async function kyc() {
  const token = await platform.sandboxes.auth.mint({ customerId: clara.customerId, clientId: 'web-app' });
  const res = await gql(platform.gatewayUrl, KYC, { token });
  expect(res.body.errors).toBeUndefined();
  return (res.body.data!.me as { kyc: { status: string; completedAt: string | null } }).kyc;
}

describe('a KYC check completing at the provider, through the gateway', () => {
  it('moves me { kyc { status } } from IN_PROGRESS to APPROVED by the signed webhook', async () => {
    clock.advance(60_000); // after the seeded check
    const created = await fetch(`${platform.sandboxes.urls.onfidoApi}/checks`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Token token=${PLATFORM_PARTNER_CREDENTIALS.onfidoApiToken}`,
      },
      body: JSON.stringify({ applicant_id: clara.kycApplicantId, report_names: ['document'] }),
    });
    expect(created.status).toBe(201);
    const checkId = ((await created.json()) as { id: string }).id;
    const before = await kyc();
    expect(before).toMatchObject({ status: 'IN_PROGRESS', completedAt: null });

    clock.advance(31_000); // past the sandbox's 30 s completion
    await vi.waitFor(async () => expect((await kyc()).completedAt).not.toBeNull(), waitBudget(15_000));
    const after = await kyc();
    expect(after.status).toBe('APPROVED');
    // It came by the webhook: delivered (2xx) to identity, signed, and its completion time is what kyc shows.
    const completed = platform.sandboxes.onfido.webhooks
      .deliveries()
      .find((d) => d.type === 'check.completed' && d.body.includes(checkId))!;
    expect(completed.state).toBe('delivered');
    expect(after.completedAt).toBe(JSON.parse(completed.body).payload.object.completed_at_iso8601);
  });
});
