// Draws the page's app icons and writes them as PNG into public/icons/ (committed; rerun after a change:
// `npx tsx src/app/build/icons.ts`). No image tool is needed: shapes are tested per pixel, 4×4
// supersampled for smooth edges, and encoded with zlib. The glyph is a staircase (the steps written on
// the device) and a dot above it (the remote model that rewrites a few of them).

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';

type Rgba = [number, number, number, number];

const BACKGROUND: Rgba = [0x24, 0x53, 0xc7, 255]; // --accent of styles.css, also the manifest's theme_color
const STEPS: Rgba = [255, 255, 255, 255];
const REMOTE: Rgba = [0xf5, 0xa6, 0x23, 255];
const CLEAR: Rgba = [0, 0, 0, 0];

export interface IconSpec {
  file: string;
  size: number;
  /** maskable: full-bleed background, glyph inside the central safe circle (radius 40%). */
  kind: 'any' | 'maskable' | 'opaque';
}

export const ICONS: IconSpec[] = [
  { file: 'icon-192.png', size: 192, kind: 'any' },
  { file: 'icon-512.png', size: 512, kind: 'any' },
  { file: 'maskable-192.png', size: 192, kind: 'maskable' },
  { file: 'maskable-512.png', size: 512, kind: 'maskable' },
  // iOS rounds the corners itself and shows transparency as black.
  { file: 'apple-touch-icon-180.png', size: 180, kind: 'opaque' },
  { file: 'favicon-32.png', size: 32, kind: 'any' },
];

/** Colour of the unit-square point (x, y) (0..1, y down). */
function shade(x: number, y: number, kind: IconSpec['kind']): Rgba {
  if (kind === 'any' && !insideRoundedSquare(x, y, 0.2)) return CLEAR;
  // The glyph is drawn for the "any" icon; the maskable one shrinks it into the safe circle.
  const scale = kind === 'maskable' ? 0.78 : 1;
  const gx = 0.5 + (x - 0.5) / scale;
  const gy = 0.5 + (y - 0.5) / scale;
  const stairs = [
    [0.2, 0.64, 0.8, 0.8],
    [0.4, 0.48, 0.8, 0.64],
    [0.6, 0.32, 0.8, 0.48],
  ];
  if (stairs.some(([x0, y0, x1, y1]) => gx >= x0! && gx <= x1! && gy >= y0! && gy <= y1!)) return STEPS;
  if ((gx - 0.33) ** 2 + (gy - 0.33) ** 2 <= 0.1 ** 2) return REMOTE;
  return BACKGROUND;
}

function insideRoundedSquare(x: number, y: number, r: number): boolean {
  const dx = Math.max(r - x, 0, x - (1 - r));
  const dy = Math.max(r - y, 0, y - (1 - r));
  return dx * dx + dy * dy <= r * r;
}

export function drawIcon(spec: IconSpec): Buffer {
  const { size, kind } = spec;
  const S = 4;
  const rows: Buffer[] = [];
  for (let py = 0; py < size; py++) {
    const row = Buffer.alloc(1 + size * 4); // filter byte 0 (none), then RGBA
    for (let px = 0; px < size; px++) {
      const acc = [0, 0, 0, 0];
      for (let sy = 0; sy < S; sy++)
        for (let sx = 0; sx < S; sx++) {
          const c = shade((px + (sx + 0.5) / S) / size, (py + (sy + 0.5) / S) / size, kind);
          // Premultiplied, so transparent samples do not darken the edge.
          for (let i = 0; i < 3; i++) acc[i]! += c[i]! * c[3];
          acc[3]! += c[3];
        }
      const a = acc[3]!;
      for (let i = 0; i < 3; i++) row[1 + px * 4 + i] = a ? Math.round(acc[i]! / a) : 0;
      row[1 + px * 4 + 3] = Math.round(a / (S * S));
    }
    rows.push(row);
  }
  return encodePng(size, size, Buffer.concat(rows));
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** An 8-bit RGBA PNG from rows that already carry their filter byte. */
function encodePng(width: number, height: number, filteredRows: Buffer): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 6; // colour type RGBA
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', header), chunk('IDAT', deflateSync(filteredRows, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = fileURLToPath(new URL('../../../public/icons/', import.meta.url));
  mkdirSync(out, { recursive: true });
  for (const spec of ICONS) {
    const png = drawIcon(spec);
    writeFileSync(join(out, spec.file), png);
    console.log(`${spec.file}: ${spec.size}×${spec.size}, ${png.length} bytes`);
  }
}
