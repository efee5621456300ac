import { describe, expect, it } from 'vitest';
import { messageText } from './DeadLettersTab';

describe('dead-letter message text', () => {
  it('pretty-prints JSON, also when it was kept as text', () => {
    expect(messageText({ a: 1 })).toBe('{\n  "a": 1\n}');
    expect(messageText('{"kind":"x"}')).toBe('{\n  "kind": "x"\n}');
  });

  it('shows anything else as it is', () => {
    expect(messageText('this is not json')).toBe('this is not json');
    expect(messageText('{"truncated": "abc')).toBe('{"truncated": "abc');
  });
});
