// Passkeys in the browser: the server's options (binary fields base64url) turned into what
// `navigator.credentials` takes, and its answers turned back into JSON for the server.

/** Can this browser use passkeys at all (a secure context with WebAuthn)? */
export function passkeysSupported(): boolean {
  return typeof window !== 'undefined' && window.isSecureContext && 'PublicKeyCredential' in window;
}

function fromB64url(text: string): ArrayBuffer {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out.buffer;
}

function toB64url(buf: ArrayBuffer | null): string | null {
  if (!buf) return null;
  let bin = '';
  for (const b of new Uint8Array(buf)) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

type Descriptor = { type: string; id: string };
// The options as the server sends them (see `PasskeyOptions` in the API).
type Json = { [k: string]: unknown };

function descriptors(list: unknown): PublicKeyCredentialDescriptor[] {
  return ((list as Descriptor[] | undefined) ?? []).map((d) => ({ type: 'public-key', id: fromB64url(d.id) }));
}

/** Registers a new passkey with the server's creation options; the answer for `POST /auth/me/passkeys`. */
export async function createPasskey(options: Json) {
  const user = options.user as { id: string; name: string; displayName: string };
  const publicKey = {
    ...options,
    challenge: fromB64url(options.challenge as string),
    user: { ...user, id: fromB64url(user.id) },
    excludeCredentials: descriptors(options.excludeCredentials),
  } as unknown as PublicKeyCredentialCreationOptions;
  const cred = (await navigator.credentials.create({ publicKey })) as PublicKeyCredential | null;
  if (!cred) throw new Error('No passkey was made.');
  const r = cred.response as AuthenticatorAttestationResponse;
  return {
    id: cred.id,
    rawId: toB64url(cred.rawId)!,
    type: cred.type,
    response: {
      clientDataJSON: toB64url(r.clientDataJSON)!,
      attestationObject: toB64url(r.attestationObject)!,
    },
  };
}

/** Signs the server's request options with a passkey; the answer for the sign-in endpoints. */
export async function signWithPasskey(options: Json) {
  const publicKey = {
    ...options,
    challenge: fromB64url(options.challenge as string),
    allowCredentials: descriptors(options.allowCredentials),
  } as unknown as PublicKeyCredentialRequestOptions;
  const cred = (await navigator.credentials.get({ publicKey })) as PublicKeyCredential | null;
  if (!cred) throw new Error('No passkey was used.');
  const r = cred.response as AuthenticatorAssertionResponse;
  return {
    id: cred.id,
    rawId: toB64url(cred.rawId)!,
    type: cred.type,
    response: {
      clientDataJSON: toB64url(r.clientDataJSON)!,
      authenticatorData: toB64url(r.authenticatorData)!,
      signature: toB64url(r.signature)!,
      userHandle: toB64url(r.userHandle),
    },
  };
}

/** A browser's refusal (cancelled, timed out, no matching passkey) in words. */
export function passkeyErrorText(e: unknown): string | null {
  if (e instanceof DOMException) {
    if (e.name === 'NotAllowedError') return 'The passkey request was cancelled or timed out.';
    if (e.name === 'InvalidStateError') return 'This passkey is already registered.';
    return `The browser refused: ${e.message}`;
  }
  return null;
}
