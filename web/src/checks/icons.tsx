// The built-in component icons, drawn as inline SVG line art (24×24, stroked in the text colour)
// and keyed by the names of `domain::component_fields::ICONS` (a unit test keeps the two lists
// equal). A component may instead name an image artifact of its project (a UUID): that one is
// an <img> of the artifact.
import { memo } from 'react';

/** A circle as a path. */
const c = (cx: number, cy: number, r: number) => `M${cx - r} ${cy}a${r} ${r} 0 1 0 ${2 * r} 0a${r} ${r} 0 1 0 ${-2 * r} 0`;
/** A rectangle with rounded corners as a path. */
const r = (x: number, y: number, w: number, h: number, rr = 0) =>
  rr === 0
    ? `M${x} ${y}h${w}v${h}h${-w}z`
    : `M${x + rr} ${y}h${w - 2 * rr}a${rr} ${rr} 0 0 1 ${rr} ${rr}v${h - 2 * rr}a${rr} ${rr} 0 0 1 ${-rr} ${rr}h${-(w - 2 * rr)}a${rr} ${rr} 0 0 1 ${-rr} ${-rr}v${-(h - 2 * rr)}a${rr} ${rr} 0 0 1 ${rr} ${-rr}z`;
/** A dot (a very short stroke, drawn round by the line caps). */
const dot = (x: number, y: number) => `M${x} ${y}h.01`;

export const ICON_PATHS: Record<string, readonly string[]> = {
  'access-point': ['M4.5 10.5a10.5 10.5 0 0 1 15 0', 'M7.5 13.5a6.2 6.2 0 0 1 9 0', dot(12, 17), r(8, 19.5, 8, 1.5, 0.5)],
  backup: ['M4 12a8 8 0 1 0 2.4-5.7', 'M4 4v4h4', 'M12 8v4l3 2'],
  camera: [r(3, 7, 18, 13, 2), 'M8 7l1.5-3h5L16 7', c(12, 13.5, 3.5)],
  cloud: ['M7 19h10a4 4 0 0 0 .6-7.96A6 6 0 0 0 6 10a4.5 4.5 0 0 0 1 9z'],
  container: ['M12 3l8 4.5v9L12 21l-8-4.5v-9z', 'M4 7.5l8 4.5 8-4.5', 'M12 12v9'],
  database: ['M5 5.5c0-1.4 3.1-2.5 7-2.5s7 1.1 7 2.5-3.1 2.5-7 2.5-7-1.1-7-2.5z', 'M5 5.5v13c0 1.4 3.1 2.5 7 2.5s7-1.1 7-2.5v-13', 'M5 12c0 1.4 3.1 2.5 7 2.5s7-1.1 7-2.5'],
  desktop: [r(3, 4, 18, 12, 1.5), 'M12 16v4', 'M8.5 20h7'],
  dns: [c(12, 12, 9), 'M3 12h18', 'M12 3c2.5 2.5 3.8 5.5 3.8 9s-1.3 6.5-3.8 9c-2.5-2.5-3.8-5.5-3.8-9S9.5 5.5 12 3z'],
  docker: [
    r(4, 9, 3, 3), r(7.5, 9, 3, 3), r(11, 9, 3, 3), r(7.5, 5.5, 3, 3), r(11, 5.5, 3, 3),
    'M2.5 13.5h16.5c1.2 0 2.2-.8 2.5-2 .4 4.2-3.4 8-9.5 8-4.6 0-7.8-2.3-9.5-6z',
  ],
  firewall: [r(3, 5, 18, 14, 1), 'M3 9.7h18', 'M3 14.3h18', 'M9 5v4.7', 'M15 5v4.7', 'M6 9.7v4.6', 'M12 9.7v4.6', 'M18 9.7v4.6', 'M9 14.3V19', 'M15 14.3V19'],
  game: [
    'M7 8h10a4.5 4.5 0 0 1 4.5 4.5v.5a3.5 3.5 0 0 1-6.2 2.2L14 14h-4l-1.3 1.2A3.5 3.5 0 0 1 2.5 13v-.5A4.5 4.5 0 0 1 7 8z',
    'M7 10.5v3', 'M5.5 12h3', dot(15.5, 11.5), dot(17.5, 13),
  ],
  git: [c(6, 5.5, 2), c(6, 18.5, 2), c(18, 8, 2), 'M6 7.5v9', 'M18 10c0 4-5 3.5-11 7'],
  'home-assistant': ['M3 11l9-7.5 9 7.5', 'M5 9.5V20h14V9.5', c(12, 13, 2), 'M12 15v5', 'M9 16.5l3 2', 'M15 15.5l-3 2'],
  kubernetes: [
    'M12 2.5l7.5 3.6 1.9 8.1-5.2 6.5H7.8l-5.2-6.5 1.9-8.1z', c(12, 12.2, 2.5),
    'M12 6.5v3.2', 'M12 14.7v3.3', 'M6.6 10.5l3 .9', 'M17.4 10.5l-3 .9', 'M8.3 16.4l2-2.2', 'M15.7 16.4l-2-2.2',
  ],
  laptop: [r(5, 5, 14, 10, 1), 'M2.5 19h19l-2-4h-15z'],
  light: ['M9 18h6', 'M10 21h4', 'M12 3a6 6 0 0 0-3.5 10.9c.6.5 1 1.2 1 2V16h5v-.1c0-.8.4-1.5 1-2A6 6 0 0 0 12 3z'],
  mail: [r(3, 5, 18, 14, 2), 'M3.5 7l8.5 6 8.5-6'],
  media: [r(3, 5, 18, 14, 2), 'M10 9l5 3-5 3z'],
  microcontroller: [r(7, 7, 10, 10, 1), 'M9 3v4', 'M12 3v4', 'M15 3v4', 'M9 17v4', 'M12 17v4', 'M15 17v4', 'M3 9.5h4', 'M3 14.5h4', 'M17 9.5h4', 'M17 14.5h4'],
  modem: [r(3, 13, 18, 6, 1.5), dot(7, 16), dot(10, 16), dot(13, 16), 'M17 13V7.5', 'M14.5 6.5a3.5 3.5 0 0 1 5 0'],
  monitoring: [r(3, 4, 18, 16, 2), 'M6 13h3l2-4 2 7 2-3h3'],
  nas: [r(5, 3, 14, 18, 1.5), 'M8 7h8', 'M8 10.5h8', 'M8 14h8', dot(12, 17.8)],
  phone: [r(7, 2.5, 10, 19, 2), 'M11 18.5h2'],
  plug: ['M9 3v5', 'M15 3v5', 'M6 8h12v3a6 6 0 0 1-12 0z', 'M12 17v4'],
  power: ['M13 2L4.5 13.5H11L10 22l8.5-11.5H12z'],
  printer: ['M7 9V3h10v6', r(3, 9, 18, 8, 1.5), 'M7 14h10v7H7z'],
  proxmox: ['M12 3l9 4.5-9 4.5-9-4.5z', 'M3 12l9 4.5 9-4.5', 'M3 16.5l9 4.5 9-4.5'],
  'raspberry-pi': [
    'M12 8.5c-3.4 0-6 2.4-6 5.8S8.7 21 12 21s6-3.3 6-6.7-2.6-5.8-6-5.8z',
    'M12 8.5C10.5 5 7.5 4.3 6 5.2c.8 2 3 3.3 6 3.3z', 'M12 8.5c1.5-3.5 4.5-4.2 6-3.3-.8 2-3 3.3-6 3.3z',
    c(9.8, 13, 1), c(14.2, 13, 1), c(12, 16.5, 1),
  ],
  router: [r(3, 13, 18, 6, 1.5), 'M7 13L5 6', 'M17 13l2-7', dot(7, 16), dot(10, 16), 'M14 16h3'],
  sensor: ['M10 14.5V5a2 2 0 0 1 4 0v9.5a4 4 0 1 1-4 0z', 'M12 9v7.5'],
  server: [r(3, 4, 18, 7, 1.5), r(3, 13, 18, 7, 1.5), dot(7, 7.5), dot(7, 16.5), 'M11 7.5h6', 'M11 16.5h6'],
  speaker: [r(6, 3, 12, 18, 2), c(12, 14, 3), c(12, 7.5, 1)],
  storage: [r(3, 7, 18, 10, 2), 'M3 12.5h18', dot(7, 15), 'M13 15h4'],
  switch: [r(2, 8, 20, 8, 1.5), 'M5.5 12h1.5', 'M9 12h1.5', 'M12.5 12h1.5', 'M16 12h1.5', dot(19, 12)],
  tv: [r(3, 6, 18, 12, 1.5), 'M8 2.5l4 3.5 4-3.5', 'M8 21h8'],
  ups: [r(3, 7, 16, 10, 1.5), 'M21 10v4', 'M11.5 9l-2 3h3l-2 3'],
  vm: [r(3, 4, 18, 14, 1.5), r(7, 7.5, 10, 7, 0.5), 'M8 21h8', 'M12 18v3'],
  vpn: ['M12 3l8 3v6c0 4.5-3.4 8-8 9-4.6-1-8-4.5-8-9V6z', r(9, 11, 6, 5, 1), 'M10 11V9.5a2 2 0 0 1 4 0V11'],
  web: [r(3, 4, 18, 16, 2), 'M3 9h18', dot(6, 6.5), dot(8.5, 6.5), dot(11, 6.5)],
};

/** The built-in icon names, in order. */
export const ICON_NAMES = Object.keys(ICON_PATHS).sort();

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `icon` names an uploaded image (an artifact id) rather than a built-in icon. */
export const isArtifactIcon = (icon: string) => UUID.test(icon);

/** "raspberry-pi" → "Raspberry pi". */
export const iconLabel = (name: string) => name.replace(/-/g, ' ').replace(/^./, (x) => x.toUpperCase());

/**
 * A component's icon: a built-in one by name, an uploaded image by artifact id; nothing for an
 * unknown name. Decorative (the name beside it says what it is).
 */
export const ComponentIcon = memo(function ComponentIcon({ icon, size = 20, className }: { icon: string | null | undefined; size?: number; className?: string }) {
  if (!icon) return null;
  if (isArtifactIcon(icon)) {
    return <img className={className} src={`/api/v1/artifacts/${icon}`} width={size} height={size} alt="" aria-hidden="true" />;
  }
  const paths = ICON_PATHS[icon];
  if (!paths) return null;
  return (
    <svg
      className={className}
      viewBox="0 0 24 24"
      width={size}
      height={size}
      fill="none"
      stroke="currentColor"
      strokeWidth={1.7}
      strokeLinecap="round"
      strokeLinejoin="round"
      aria-hidden="true"
      focusable="false"
      data-icon={icon}
    >
      {paths.map((d, i) => (
        <path key={i} d={d} />
      ))}
    </svg>
  );
});
