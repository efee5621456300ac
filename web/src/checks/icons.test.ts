import { describe, expect, it } from 'vitest';
// The server's list, read from its source at test time.
import rust from '../../../crates/domain/src/component_fields.rs?raw';
import { ICON_NAMES, ICON_PATHS, isArtifactIcon } from './icons';

describe('built-in icons', () => {
  it('are exactly the ones the server accepts (domain ICONS)', () => {
    const list = rust.match(/pub const ICONS: &\[&str\] = &\[([\s\S]*?)\];/);
    expect(list).not.toBeNull();
    const names = [...list![1]!.matchAll(/"([^"]+)"/g)].map((m) => m[1]).sort();
    expect(names.length).toBeGreaterThan(10);
    expect(ICON_NAMES).toEqual(names);
  });

  it('are drawn with well-formed paths', () => {
    for (const [name, paths] of Object.entries(ICON_PATHS)) {
      expect(paths.length, name).toBeGreaterThan(0);
      for (const d of paths) {
        expect(d, name).toMatch(/^M/);
        expect(d, name).not.toMatch(/NaN|undefined/);
      }
    }
  });

  it('tell an uploaded image from a name', () => {
    expect(isArtifactIcon('0195f0c4-8a7e-7c1b-9e4f-1d2c3b4a5f60')).toBe(true);
    expect(isArtifactIcon('server')).toBe(false);
  });
});
