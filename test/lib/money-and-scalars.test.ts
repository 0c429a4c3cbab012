import { describe, expect, it } from 'vitest';
import { Kind } from 'graphql';
import { isCurrencyCode, minorUnits, normaliseAmount, signedToMoney } from '../../lib/money.ts';
import { DateScalar, DateTimeScalar, DecimalScalar, CurrencyCodeScalar } from '../../lib/scalars.ts';

describe('money', () => {
  it('knows ISO 4217 minor units', () => {
    expect(minorUnits('GBP')).toBe(2);
    expect(minorUnits('JPY')).toBe(0);
    expect(minorUnits('BHD')).toBe(3);
    expect(() => minorUnits('XYZ')).toThrow(/unknown ISO 4217/);
  });

  it('normalises amounts to the currency minor units and refuses excess precision', () => {
    expect(normaliseAmount('10.5', 'GBP')).toBe('10.50');
    expect(normaliseAmount('007', 'EUR')).toBe('7.00');
    expect(normaliseAmount('1200', 'JPY')).toBe('1200');
    expect(normaliseAmount('1.250', 'GBP')).toBe('1.25');
    expect(() => normaliseAmount('1.255', 'GBP')).toThrow(/more fraction digits/);
    expect(() => normaliseAmount('12.5', 'JPY')).toThrow(/more fraction digits/);
    expect(() => normaliseAmount('-1.00', 'GBP')).toThrow(/invalid decimal/);
    expect(() => normaliseAmount('1e3', 'GBP')).toThrow(/invalid decimal/);
  });

  it('turns signed partner amounts into magnitude and direction', () => {
    expect(signedToMoney('-12.3', 'EUR')).toEqual({ money: { amount: '12.30', currency: 'EUR' }, direction: 'DEBIT' });
    expect(signedToMoney('+4.00', 'EUR')).toEqual({ money: { amount: '4.00', currency: 'EUR' }, direction: 'CREDIT' });
    expect(signedToMoney('-0.00', 'EUR').direction).toBe('CREDIT');
  });

  it('validates currency codes', () => {
    expect(isCurrencyCode('EUR')).toBe(true);
    expect(isCurrencyCode('eur')).toBe(false);
    expect(isCurrencyCode('ABC')).toBe(false);
  });
});

describe('scalars', () => {
  it('Decimal accepts only non-negative decimal strings, never numbers', () => {
    expect(DecimalScalar.parseValue('12.34')).toBe('12.34');
    expect(() => DecimalScalar.parseValue(12.34)).toThrow(/decimal string/);
    expect(() => DecimalScalar.parseLiteral({ kind: Kind.FLOAT, value: '12.34' })).toThrow(/string/);
    expect(() => DecimalScalar.serialize('abc')).toThrow();
  });

  it('CurrencyCode accepts only ISO 4217 codes', () => {
    expect(CurrencyCodeScalar.parseValue('GBP')).toBe('GBP');
    expect(() => CurrencyCodeScalar.parseValue('XXQ')).toThrow(/ISO 4217/);
  });

  it('DateTime requires a zone on input and always serialises to UTC', () => {
    expect(DateTimeScalar.serialize('2026-11-23T10:15:00+01:00')).toBe('2026-11-23T09:15:00.000Z');
    expect(DateTimeScalar.serialize(new Date('2026-01-01T00:00:00Z'))).toBe('2026-01-01T00:00:00.000Z');
    expect(() => DateTimeScalar.parseValue('2026-11-23T10:15:00')).toThrow(/zone/);
    expect(() => DateTimeScalar.parseValue('2026-13-01T00:00:00Z')).toThrow();
  });

  it('Date accepts only real calendar dates', () => {
    expect(DateScalar.parseValue('2024-02-29')).toBe('2024-02-29');
    expect(() => DateScalar.parseValue('2025-02-29')).toThrow(/does not exist/);
    expect(() => DateScalar.parseValue('23/11/2026')).toThrow(/ISO 8601/);
  });
});
