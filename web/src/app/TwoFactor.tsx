// Two-factor sign-in pieces shared by the login page and Settings: the QR code of an
// `otpauth://` URI (drawn here as SVG from qrcode-generator's modules, so the secret never
// leaves the page), the secret as text, and the recovery codes shown once.
import qrcode from 'qrcode-generator';
import { useMemo } from 'react';
import { Button } from './ui';
import './twofactor.css';

/** The QR code of `text`, as an SVG image with a text alternative. */
export function QrCode({ text, label }: { text: string; label: string }) {
  const { size, path } = useMemo(() => {
    const qr = qrcode(0, 'M');
    qr.addData(text);
    qr.make();
    const n = qr.getModuleCount();
    let d = '';
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < n; c++) {
        if (qr.isDark(r, c)) d += `M${c + 4} ${r + 4}h1v1h-1z`;
      }
    }
    return { size: n + 8, path: d };
  }, [text]);
  return (
    <svg
      className="qr-code"
      role="img"
      aria-label={label}
      viewBox={`0 0 ${size} ${size}`}
      width={size * 5}
      height={size * 5}
      shapeRendering="crispEdges"
    >
      <rect width={size} height={size} fill="#fff" />
      <path d={path} fill="#000" />
    </svg>
  );
}

/** What an authenticator app needs: the QR code, and the secret to type in instead. */
export function TotpSecretView({ secret, uri }: { secret: string; uri: string }) {
  return (
    <div className="totp-secret">
      <QrCode text={uri} label="QR code for your authenticator app" />
      <p>
        Scan the code with an authenticator app (Aegis, 2FAS, Google Authenticator, 1Password…), or enter this key:
      </p>
      <code data-testid="totp-secret" className="secret">
        {secret.replace(/(.{4})/g, '$1 ').trim()}
      </code>
    </div>
  );
}

/** Recovery codes, shown once, with a way to keep them. */
export function RecoveryCodesView({ codes }: { codes: string[] }) {
  const download = () => {
    const blob = new Blob([`TaylorDash recovery codes\n\n${codes.join('\n')}\n`], { type: 'text/plain' });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = 'taylordash-recovery-codes.txt';
    a.click();
    URL.revokeObjectURL(a.href);
  };
  return (
    <section className="callout recovery-codes" aria-labelledby="recovery-h">
      <h3 id="recovery-h">Recovery codes</h3>
      <p>
        Each code signs you in once if your phone is lost. They are shown only now: save or print them and keep them
        somewhere safe.
      </p>
      <ul data-testid="recovery-codes">
        {codes.map((c) => (
          <li key={c}>
            <code>{c}</code>
          </li>
        ))}
      </ul>
      <Button onClick={download}>Download as a text file</Button>
    </section>
  );
}
