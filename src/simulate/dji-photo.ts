/**
 * Generates JPEGs that carry metadata the way DJI aircraft write it: EXIF (make, model, capture time,
 * GPS in IFD3) and the `drone-dji` XMP namespace (absolute and relative altitude, gimbal and flight
 * angles). Used by the tests and by `skyvault simulate pilot`.
 */
import sharp from 'sharp';

export interface DjiPhotoOptions {
  width?: number;
  height?: number;
  latitude: number;
  longitude: number;
  absoluteAltitude: number;
  relativeAltitude: number;
  gimbalYawDegree: number;
  /** The capture time; written as local time with its offset (OffsetTimeOriginal). */
  capturedAt: Date;
  /** Minutes east of UTC of the camera's clock. */
  utcOffsetMinutes?: number;
  model?: string;
  /** Varies the picture so that every photo has its own bytes. */
  seed?: number;
}

const pad = (n: number) => String(Math.floor(Math.abs(n))).padStart(2, '0');

function rational(value: number): string {
  const abs = Math.abs(value);
  const degrees = Math.floor(abs);
  const minutes = Math.floor((abs - degrees) * 60);
  const seconds = Math.round(((abs - degrees) * 60 - minutes) * 60 * 10000);
  return `${degrees}/1 ${minutes}/1 ${seconds}/10000`;
}

export async function djiPhoto(options: DjiPhotoOptions): Promise<Buffer> {
  const width = options.width ?? 640;
  const height = options.height ?? 480;
  const offset = options.utcOffsetMinutes ?? 0;
  const local = new Date(options.capturedAt.getTime() + offset * 60_000);
  const exifTime = `${local.getUTCFullYear()}:${pad(local.getUTCMonth() + 1)}:${pad(local.getUTCDate())} ${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}`;
  const offsetText = `${offset < 0 ? '-' : '+'}${pad(offset / 60)}:${pad(offset % 60)}`;
  const seed = options.seed ?? 0;
  const picture = await aerialScene(width, height, seed);
  const signed = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(2)}`;
  const xmp = `<?xpacket begin="\uFEFF" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="DJI Meta Data" xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/"
 drone-dji:AbsoluteAltitude="${signed(options.absoluteAltitude)}" drone-dji:RelativeAltitude="${signed(options.relativeAltitude)}"
 drone-dji:GimbalYawDegree="${signed(options.gimbalYawDegree)}" drone-dji:GimbalPitchDegree="-90.00" drone-dji:GimbalRollDegree="+0.00"
 drone-dji:FlightYawDegree="${signed(options.gimbalYawDegree)}" drone-dji:GpsLatitude="${options.latitude}" drone-dji:GpsLongitude="${options.longitude}" drone-dji:RtkFlag="50"/>
</rdf:RDF></x:xmpmeta><?xpacket end="w"?>`;
  return sharp(picture)
    .jpeg({ quality: 85 })
    .withExif({
      IFD0: { Make: 'DJI', Model: options.model ?? 'M30T', DateTime: exifTime },
      IFD2: { DateTimeOriginal: exifTime, OffsetTimeOriginal: offsetText },
      IFD3: {
        GPSLatitudeRef: options.latitude >= 0 ? 'N' : 'S',
        GPSLatitude: rational(options.latitude),
        GPSLongitudeRef: options.longitude >= 0 ? 'E' : 'W',
        GPSLongitude: rational(options.longitude),
        GPSAltitudeRef: '0',
        GPSAltitude: `${Math.round(options.absoluteAltitude * 1000)}/1000`,
      },
    })
    .withXmp(xmp)
    .toBuffer();
}

/**
 * A picture that looks like a nadir shot of farmland (fields, a road, a river), different for every
 * seed, so that the library's thumbnails of simulated flights look like what operators see.
 */
async function aerialScene(width: number, height: number, seed: number): Promise<Buffer> {
  let state = (seed * 2654435761 + 1) >>> 0;
  const random = () => {
    // xorshift32: a tiny deterministic generator, so the same seed gives the same photo.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  const greens = ['#6b8e3d', '#8aa84f', '#a3b86c', '#5d7a34', '#c2b280', '#9c8a5a', '#7d9b46', '#b5a86a'];
  const columns = 4 + Math.floor(random() * 3);
  const rows = 3 + Math.floor(random() * 3);
  const cellW = width / columns;
  const cellH = height / rows;
  const fields: string[] = [];
  for (let c = 0; c < columns; c++) {
    for (let r = 0; r < rows; r++) {
      const color = greens[Math.floor(random() * greens.length)];
      const x = c * cellW + random() * 6;
      const y = r * cellH + random() * 6;
      const stripes =
        random() > 0.5
          ? `<path d="M${x} ${y + cellH / 3}h${cellW - 8}M${x} ${y + (2 * cellH) / 3}h${cellW - 8}" stroke="rgba(0,0,0,0.12)" stroke-width="2"/>`
          : '';
      fields.push(
        `<rect x="${x}" y="${y}" width="${cellW - 8}" height="${cellH - 8}" fill="${color}"/>${stripes}`,
      );
    }
  }
  const roadY = height * (0.2 + random() * 0.6);
  const riverX = width * (0.2 + random() * 0.6);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
<rect width="100%" height="100%" fill="#4f6b2c"/>${fields.join('')}
<path d="M0 ${roadY} C ${width / 3} ${roadY - 40}, ${(2 * width) / 3} ${roadY + 40}, ${width} ${roadY}" stroke="#d8d2c4" stroke-width="${Math.max(6, width / 60)}" fill="none"/>
<path d="M${riverX} 0 C ${riverX + 60} ${height / 3}, ${riverX - 60} ${(2 * height) / 3}, ${riverX + 20} ${height}" stroke="#4a7fa8" stroke-width="${Math.max(10, width / 35)}" fill="none"/>
</svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}
