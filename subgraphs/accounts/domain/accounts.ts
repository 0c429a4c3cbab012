import { PartnerError } from '../../../lib/errors.ts';
import { bankAccountId } from '../../../lib/ids.ts';
import type { Logger } from '../../../lib/logger.ts';
import type { AccountModel, BalanceModel, BankAccount, BankConnection, InstitutionModel } from './model.ts';
import type { AccountsRepository, BankAdapterRegistry } from './ports.ts';

/**
 * A customer's accounts across every connected bank. Banks are asked in parallel and
 * independently: one bank failing never hides the accounts of another. The failure is not
 * swallowed either: it comes back in `unavailable` (surfaced to clients as
 * Customer.unavailableInstitutions) and is logged with the partner's name.
 */
export interface CustomerAccounts {
  accounts: AccountModel[];
  /** Institutions whose accounts could not be read (partner unavailable or contract violation). */
  unavailable: InstitutionModel[];
  /** The partner error behind each unavailable institution, by institution id. */
  errors: Map<string, PartnerError>;
}

export interface AccountsDeps {
  adapters: BankAdapterRegistry;
  repo: AccountsRepository;
  idSecret: string;
  logger: Logger;
}

/** "••••4821": the last four characters of the identification, safe to show. */
export function maskIdentifier(value: string | null | undefined): string {
  const compact = (value ?? '').replace(/\s+/g, '');
  return `••••${compact.slice(-4)}`;
}

export function toAccountModel(
  bank: BankAccount,
  connection: BankConnection,
  institution: InstitutionModel,
  idSecret: string,
): AccountModel {
  return {
    ...bank,
    id: bankAccountId(idSecret, institution.id, bank.bankAccountRef),
    customerId: connection.customerId,
    institution,
    connectionId: connection.id,
    maskedIdentifier: maskIdentifier(bank.identification?.value),
  };
}

/** Stable order: by institution id, then the bank's own order. */
export async function loadCustomersAccounts(
  deps: AccountsDeps,
  customerIds: readonly string[],
): Promise<Map<string, CustomerAccounts>> {
  const connections = await deps.repo.connectionsOfCustomers(customerIds);
  const result = new Map<string, CustomerAccounts>(
    customerIds.map((id) => [id, { accounts: [], unavailable: [], errors: new Map() }]),
  );
  const perConnection = await Promise.all(
    connections.map(async (connection) => {
      const adapter = deps.adapters.get(connection.institution);
      if (!adapter) {
        deps.logger.error(
          { institution: connection.institution },
          'bank connection for an institution without an adapter',
        );
        const error = new PartnerError(
          connection.institution,
          'unavailable',
          'no adapter is registered for this institution',
        );
        return {
          connection,
          institution: { id: connection.institution, name: connection.institution, standard: 'OBIE' as const },
          accounts: null,
          error,
        };
      }
      try {
        const accounts = await adapter.listAccounts(connection);
        return {
          connection,
          institution: adapter.institution,
          accounts: accounts.map((a) => toAccountModel(a, connection, adapter.institution, deps.idSecret)),
          error: null,
        };
      } catch (err) {
        if (!(err instanceof PartnerError)) throw err;
        deps.logger.warn(
          { partner: err.partner, kind: err.kind, err },
          'bank accounts unavailable; returning the other banks',
        );
        return { connection, institution: adapter.institution, accounts: null, error: err };
      }
    }),
  );
  const refs = [];
  for (const { connection, institution, accounts, error } of perConnection) {
    const entry = result.get(connection.customerId)!;
    if (accounts === null) {
      entry.unavailable.push(institution);
      if (error) entry.errors.set(institution.id, error);
      continue;
    }
    entry.accounts.push(...accounts);
    refs.push(
      ...accounts.map((a) => ({
        accountId: a.id,
        customerId: a.customerId,
        institution: institution.id,
        bankAccountRef: a.bankAccountRef,
      })),
    );
  }
  await deps.repo.upsertAccountRefs(refs);
  for (const entry of result.values()) {
    entry.accounts.sort((a, b) =>
      a.institution.id < b.institution.id ? -1 : a.institution.id > b.institution.id ? 1 : 0,
    );
    entry.unavailable.sort((a, b) => (a.id < b.id ? -1 : 1));
  }
  return result;
}

/**
 * Balances of many accounts, one adapter call per connection. A bank failure rejects only the
 * balances of that bank's accounts (per-key errors), so other banks' balances still resolve.
 */
export async function loadBalances(
  deps: AccountsDeps,
  accounts: readonly AccountModel[],
): Promise<(BalanceModel[] | Error)[]> {
  const groups = new Map<string, AccountModel[]>();
  for (const a of accounts) groups.set(a.connectionId, [...(groups.get(a.connectionId) ?? []), a]);
  const connections = new Map(
    (await deps.repo.connectionsOfCustomers([...new Set(accounts.map((a) => a.customerId))])).map((c) => [c.id, c]),
  );
  const byAccountId = new Map<string, BalanceModel[] | Error>();
  await Promise.all(
    [...groups].map(async ([connectionId, group]) => {
      const connection = connections.get(connectionId);
      const adapter = deps.adapters.get(group[0]!.institution.id);
      if (!connection || !adapter) {
        for (const a of group) byAccountId.set(a.id, new Error(`no bank connection for account ${a.id}`));
        return;
      }
      try {
        const balances = await adapter.getBalances(
          connection,
          group.map((a) => a.bankAccountRef),
        );
        for (const a of group) byAccountId.set(a.id, balances.get(a.bankAccountRef) ?? []);
      } catch (err) {
        for (const a of group) byAccountId.set(a.id, err as Error);
      }
    }),
  );
  return accounts.map((a) => byAccountId.get(a.id) ?? []);
}

const CURRENT_BALANCE_PREFERENCE = ['INTERIM_AVAILABLE', 'INTERIM_BOOKED'] as const;
const BOOKED_TYPES = new Set(['INTERIM_BOOKED', 'CLOSING_BOOKED', 'OPENING_BOOKED']);

/**
 * The most useful single balance: interim available, else interim booked, else any booked
 * balance (the most recent one). Within a type, the most recent wins.
 */
export function chooseCurrentBalance(balances: readonly BalanceModel[]): BalanceModel | null {
  const newest = (list: BalanceModel[]) =>
    list.reduce<BalanceModel | null>((best, b) => (best === null || b.asOf > best.asOf ? b : best), null);
  for (const type of CURRENT_BALANCE_PREFERENCE) {
    const match = newest(balances.filter((b) => b.type === type));
    if (match) return match;
  }
  return newest(balances.filter((b) => BOOKED_TYPES.has(b.type)));
}
