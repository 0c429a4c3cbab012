import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { composeSupergraph } from '../../gateway/authorization/composition.ts';
import { PUBLIC_SCHEMA_PATH, SUPERGRAPH_PATH } from '../../lib/schema-files.ts';
import { buildSchema, isEnumType, isInputObjectType, isInterfaceType, isObjectType } from 'graphql';

const strip = (sdl: string) => sdl.replace(/^# Generated.*\n/, '').trim();

describe('canonical schema composition', () => {
  const composed = composeSupergraph();

  it('composes the four subgraphs without errors', () => {
    expect(composed.supergraphSdl).toContain('join__Graph');
  });

  it('has a checked-in supergraph that matches the domain SDLs (run `npm run compose` when this fails)', () => {
    expect(strip(readFileSync(SUPERGRAPH_PATH, 'utf8'))).toBe(composed.supergraphSdl.trim());
    expect(strip(readFileSync(PUBLIC_SCHEMA_PATH, 'utf8'))).toBe(composed.publicSdl.trim());
  });

  it('describes every type, field, argument and enum value that partner developers see', () => {
    const schema = buildSchema(composed.publicSdl);
    const missing: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith('__')) continue;
      if (['String', 'Boolean', 'Int', 'Float', 'ID'].includes(type.name)) continue;
      if (!type.description) missing.push(type.name);
      if (isObjectType(type) || isInterfaceType(type)) {
        for (const field of Object.values(type.getFields())) {
          if (!field.description) missing.push(`${type.name}.${field.name}`);
          for (const arg of field.args) if (!arg.description) missing.push(`${type.name}.${field.name}(${arg.name})`);
        }
      }
      if (isInputObjectType(type))
        for (const field of Object.values(type.getFields()))
          if (!field.description) missing.push(`${type.name}.${field.name}`);
      if (isEnumType(type))
        for (const value of type.getValues()) if (!value.description) missing.push(`${type.name}.${value.name}`);
    }
    expect(missing).toEqual([]);
  });

  it('keeps money out of floats: no Float anywhere in the public schema', () => {
    expect(composed.publicSdl).not.toMatch(/:\s*\[?Float/);
  });
});
