// Types of check.js (plain JavaScript so that the browser loads it as it is).
import type { DocumentNode, GraphQLSchema, ValidationRule } from 'graphql';
import type { CallerKind } from '../../authorization/policy.ts';
import type { FieldRequirement, RequirementsDocument } from '../requirements.ts';

type GraphQLModule = typeof import('graphql');

export declare const CALLER_KIND_NAMES: Record<CallerKind, string>;

export interface DecodedToken {
  clientId: string | null;
  customerId: string | null;
  scopes: string[];
  /** Milliseconds since the epoch, or null without `exp`. */
  expiresAt: number | null;
  expired: boolean;
}

export declare function decodeToken(token: string, nowMs?: number): DecodedToken | null;
export declare function tokenFromHeaders(headersText: string | null | undefined): string | null;
export declare function withBearer(headersText: string | null | undefined, token: string): string;

export interface Caller {
  scopes: string[];
  expired?: boolean;
  /** Why the gateway refused the token (a 401 from /explorer/caller). */
  refused?: string;
  /** undefined: not known yet; null: the client registry does not list the client. */
  kind?: CallerKind | null;
  grants?: Record<string, boolean> | null;
}

export type UnmetReason = 'NO_RULE' | 'AUTHENTICATION' | 'SCOPE' | 'CALLER_KIND' | 'CONSENT';

export interface Unmet {
  reason: UnmetReason;
  message: string;
  missingScopes?: string[];
  missingConsent?: string;
}

export declare function unmetRequirements(
  requirement: FieldRequirement | undefined | null,
  caller: Caller | null,
): Unmet[];
export declare function describeRequirement(requirement: FieldRequirement | undefined | null): string[];

export interface SelectedField {
  coordinate: string;
  path: string;
  requirement: FieldRequirement | null;
  unmet: Unmet[];
}

export declare function operationFields(
  graphql: GraphQLModule,
  schema: GraphQLSchema,
  document: DocumentNode | string,
  options: {
    variables?: Record<string, unknown>;
    operationName?: string | null;
    requirements: RequirementsDocument;
    caller: Caller | null;
  },
): SelectedField[];

export declare function requirementsRule(
  graphql: GraphQLModule,
  getRequirements: () => RequirementsDocument | null,
  getCaller: () => Caller | null,
): ValidationRule;
