// A real OpenID provider (the certified `oidc-provider` package) on a loopback port, for the
// single sign-on tests. It prints `listening <issuer>` once it accepts connections.
//
// Configuration (environment):
//   OP_CLIENTS  JSON list of client metadata (client_id, client_secret, redirect_uris,
//               post_logout_redirect_uris, id_token_signed_response_alg, ...).
//   OP_PORT     port to listen on (default: any free one).
//   OP_TLS_DIR  a directory with server.pem and server.key: serve HTTPS instead, as
//               https://localhost:<port> (a provider with a certificate from a private CA).
//
// Accounts: any name typed into the sign-in form signs in, with the subject `sub-<name>` (so
// that linking by subject is told apart from linking by name); its claims are
// preferred_username, email and groups (set per user on stdin, below).
//
// Commands on stdin, one per line, each answered `ok` on stdout once in force:
//   groups <user> <g1,g2,...>   the groups claim of <user> (empty list: no argument)
//   mode <mode>                 how the NEXT token response's ID token is altered, then back to
//                               normal: tamper (payload changed, signature kept), audience (aud
//                               of another client, signed), expired (exp an hour ago, signed),
//                               replay (the previous sign-in's ID token), rotate (signed with a
//                               new key that the key set publishes from now on), unknown_key
//                               (signed with a key never published)
// These stand in for a broken or hostile provider; every answer is still signed by the OP's
// own code path with jose, and the protocol around it is oidc-provider's.

import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import readline from 'node:readline';
import Provider from 'oidc-provider';
import * as jose from 'jose';

// stdout is the command channel: the package's notices go to stderr.
for (const level of ['log', 'info', 'warn', 'debug']) console[level] = console.error;

const clients = JSON.parse(process.env.OP_CLIENTS || '[]');
const port = Number(process.env.OP_PORT || 0);

async function signingKey(alg, kid) {
  const { privateKey } = await jose.generateKeyPair(alg, { extractable: true });
  const jwk = await jose.exportJWK(privateKey);
  return { ...jwk, kid, alg, use: 'sig' };
}

const keys = [await signingKey('RS256', 'rsa-1'), await signingKey('ES256', 'ec-1')];
const extraPublished = [];
const groups = new Map();
let mode = null;
let lastIdToken = null;

const tlsDir = process.env.OP_TLS_DIR;
const server = tlsDir
  ? https.createServer({
    cert: fs.readFileSync(path.join(tlsDir, 'server.pem')),
    key: fs.readFileSync(path.join(tlsDir, 'server.key')),
  })
  : http.createServer();
await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
const issuer = tlsDir
  ? `https://localhost:${server.address().port}`
  : `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients,
  jwks: { keys },
  cookies: { keys: ['a-test-only-cookie-signing-key'] },
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['preferred_username', 'name'],
    groups: ['groups'],
  },
  // Scope claims in the ID token (as Authelia, Authentik and Keycloak do).
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: { enabled: true },
  },
  pkce: { required: () => true },
  ttl: {
    Interaction: 600, Session: 3600, Grant: 3600, AuthorizationCode: 60, IdToken: 3600, AccessToken: 3600,
  },
  async findAccount(ctx, sub) {
    const name = sub.replace(/^sub-/, '');
    return {
      accountId: sub,
      async claims() {
        return {
          sub,
          preferred_username: name,
          name,
          email: `${name}@example.test`,
          email_verified: true,
          groups: groups.get(name) ?? [],
        };
      },
    };
  },
  // First-party client: no consent screen; everything asked for is granted.
  async loadExistingGrant(ctx) {
    const existing = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (existing) return ctx.oidc.provider.Grant.find(existing);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email profile groups');
    await grant.save();
    return grant;
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
});
provider.proxy = false;

const page = (body) => `<!doctype html><html><head><meta charset="utf-8"><title>Test provider</title></head><body>${body}</body></html>`;

async function resign(token, change, key = keys.find((k) => k.alg === jose.decodeProtectedHeader(token).alg)) {
  const payload = { ...jose.decodeJwt(token), ...change };
  const signer = await jose.importJWK(key, key.alg);
  return new jose.CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .sign(signer);
}

async function alter(idToken) {
  const now = Math.floor(Date.now() / 1000);
  switch (mode) {
    case 'tamper': {
      const [h, , s] = idToken.split('.');
      // Someone else, an admin: the signature no longer matches.
      const claims = { ...jose.decodeJwt(idToken), preferred_username: 'root', groups: ['taylordash-admins', 'tampered'] };
      const p = Buffer.from(JSON.stringify(claims)).toString('base64url');
      return `${h}.${p}.${s}`;
    }
    case 'audience':
      return resign(idToken, { aud: 'another-client' });
    case 'expired':
      return resign(idToken, { iat: now - 7200, exp: now - 3600 });
    case 'replay':
      return lastIdToken ?? idToken;
    case 'rotate': {
      const alg = jose.decodeProtectedHeader(idToken).alg;
      const key = await signingKey(alg, `rotated-${extraPublished.length + 1}`);
      extraPublished.push(key);
      return resign(idToken, {}, key);
    }
    case 'unknown_key': {
      const alg = jose.decodeProtectedHeader(idToken).alg;
      return resign(idToken, {}, await signingKey(alg, 'never-published'));
    }
    default:
      return idToken;
  }
}

provider.use(async (ctx, next) => {
  // The sign-in form.
  const m = ctx.path.match(/^\/interaction\/([^/]+)(\/login)?$/);
  if (m) {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (ctx.method === 'POST' && m[2]) {
      const body = await new Promise((resolve) => {
        let data = '';
        ctx.req.on('data', (c) => { data += c; });
        ctx.req.on('end', () => resolve(new URLSearchParams(data)));
      });
      const login = (body.get('login') || '').trim();
      if (!login) {
        ctx.status = 400;
        ctx.body = page('<p>name required</p>');
        return;
      }
      await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: `sub-${login}` } }, {
        mergeWithLastSubmission: false,
      });
      return;
    }
    ctx.type = 'html';
    ctx.body = page(`<h1>Test provider</h1><p>${details.prompt.name}</p>
      <form method="post" action="/interaction/${details.uid}/login">
        <label>Username <input name="login" autofocus></label>
        <button type="submit">Continue</button>
      </form>`);
    return;
  }
  await next();
  if (ctx.path === '/token' && ctx.status === 200 && ctx.body?.id_token) {
    const original = ctx.body.id_token;
    ctx.body.id_token = await alter(original);
    mode = null;
    lastIdToken = original;
  }
  if (ctx.path === '/jwks' && ctx.status === 200 && extraPublished.length) {
    const published = await Promise.all(extraPublished.map(async (k) => {
      const { d, p, q, dp, dq, qi, ...pub } = k;
      return pub;
    }));
    ctx.body = { keys: [...ctx.body.keys, ...published] };
  }
});

server.on('request', provider.callback());

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const [cmd, ...args] = line.trim().split(/\s+/);
  if (cmd === 'groups') {
    groups.set(args[0], (args[1] || '').split(',').filter(Boolean));
  } else if (cmd === 'mode') {
    mode = args[0] || null;
  } else if (cmd) {
    process.stdout.write(`error unknown command ${cmd}\n`);
    return;
  }
  process.stdout.write('ok\n');
});
rl.on('close', () => process.exit(0));

process.stdout.write(`listening ${issuer}\n`);
