import { GraphQLError, GraphQLScalarType, Kind, type ValueNode } from 'graphql';
import { isCurrencyCode, isDecimalString } from './money.ts';

/**
 * The shared scalars of schema/shared.graphql. Parsing is strict: a Decimal must be a string
 * (a JSON number would already have lost precision), a DateTime must carry a zone, a Date
 * must be a real calendar date. Serialisation refuses values that would break the contract
 * rather than passing them through.
 */
function stringLiteral(ast: ValueNode, scalar: string): string {
  if (ast.kind !== Kind.STRING)
    throw new GraphQLError(`${scalar} must be given as a string`, { extensions: { code: 'BAD_USER_INPUT' } });
  return ast.value;
}

function badInput(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } });
}

function checkDecimal(value: unknown): string {
  if (typeof value !== 'string' || !isDecimalString(value))
    throw badInput(`Decimal must be a non-negative decimal string like "12.34", got ${JSON.stringify(value)}`);
  return value;
}

export const DecimalScalar = new GraphQLScalarType({
  name: 'Decimal',
  description: 'A non-negative decimal number carried as a string.',
  serialize: (value) => checkDecimal(value),
  parseValue: (value) => checkDecimal(value),
  parseLiteral: (ast) => checkDecimal(stringLiteral(ast, 'Decimal')),
});

function checkCurrency(value: unknown): string {
  if (typeof value !== 'string' || !isCurrencyCode(value))
    throw badInput(`CurrencyCode must be an ISO 4217 code like "GBP", got ${JSON.stringify(value)}`);
  return value;
}

export const CurrencyCodeScalar = new GraphQLScalarType({
  name: 'CurrencyCode',
  description: 'An ISO 4217 alphabetic currency code.',
  serialize: (value) => checkCurrency(value),
  parseValue: (value) => checkCurrency(value),
  parseLiteral: (ast) => checkCurrency(stringLiteral(ast, 'CurrencyCode')),
});

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;

export function parseDateTime(value: unknown): Date {
  if (value instanceof Date && !Number.isNaN(value.getTime())) return value;
  if (typeof value !== 'string' || !RFC3339.test(value))
    throw badInput(`DateTime must be an RFC 3339 timestamp with a zone, got ${JSON.stringify(value)}`);
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw badInput(`DateTime ${JSON.stringify(value)} is not a real instant`);
  return date;
}

export const DateTimeScalar = new GraphQLScalarType({
  name: 'DateTime',
  description: 'An RFC 3339 timestamp, returned in UTC.',
  serialize: (value) => parseDateTime(value).toISOString(),
  parseValue: (value) => parseDateTime(value),
  parseLiteral: (ast) => parseDateTime(stringLiteral(ast, 'DateTime')),
});

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

export function checkDate(value: unknown): string {
  const match = typeof value === 'string' ? ISO_DATE.exec(value) : null;
  if (!match) throw badInput(`Date must be an ISO 8601 calendar date like "2026-11-23", got ${JSON.stringify(value)}`);
  const [y, m, d] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(y, m - 1, d));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d)
    throw badInput(`Date ${value} does not exist`);
  return value as string;
}

export const DateScalar = new GraphQLScalarType({
  name: 'Date',
  description: 'An ISO 8601 calendar date.',
  serialize: (value) => checkDate(value instanceof Date ? value.toISOString().slice(0, 10) : value),
  parseValue: (value) => checkDate(value),
  parseLiteral: (ast) => checkDate(stringLiteral(ast, 'Date')),
});

/** Resolver map entries for the scalars, to spread into a subgraph's resolvers. */
export const scalarResolvers = {
  Decimal: DecimalScalar,
  CurrencyCode: CurrencyCodeScalar,
  DateTime: DateTimeScalar,
  Date: DateScalar,
};
