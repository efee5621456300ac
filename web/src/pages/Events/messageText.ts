// A dead letter's stored message as text.

/** The stored message: pretty JSON when it is JSON (also when kept as text), else the text. */
export function messageText(payload: unknown): string {
  if (typeof payload !== 'string') return JSON.stringify(payload, null, 2);
  try {
    return JSON.stringify(JSON.parse(payload), null, 2);
  } catch {
    return payload;
  }
}
