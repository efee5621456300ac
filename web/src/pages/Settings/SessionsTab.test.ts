import { describe, expect, it } from 'vitest';
import { describeAgent } from './SessionsTab';

describe('session client summary', () => {
  it('names common browsers and systems', () => {
    expect(
      describeAgent('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36'),
    ).toBe('Chrome on Linux');
    expect(describeAgent('Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:130.0) Gecko/20100101 Firefox/130.0')).toBe('Firefox on Windows');
    expect(
      describeAgent('Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/604.1'),
    ).toBe('Safari on iOS');
    expect(describeAgent('curl/8.5.0')).toBe('curl');
  });

  it('falls back to the raw string, shortened', () => {
    expect(describeAgent(null)).toBe('Unknown client');
    expect(describeAgent('my-script/1')).toBe('my-script/1');
    expect(describeAgent('x'.repeat(80))).toHaveLength(58);
  });
});
