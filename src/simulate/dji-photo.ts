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
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 7 + seed * 31 + ((i / (width * 3)) | 0)) & 0xff;
  const signed = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(2)}`;
  const xmp = `<?xpacket begin="\uFEFF" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="DJI Meta Data" xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/"
 drone-dji:AbsoluteAltitude="${signed(options.absoluteAltitude)}" drone-dji:RelativeAltitude="${signed(options.relativeAltitude)}"
 drone-dji:GimbalYawDegree="${signed(options.gimbalYawDegree)}" drone-dji:GimbalPitchDegree="-90.00" drone-dji:GimbalRollDegree="+0.00"
 drone-dji:FlightYawDegree="${signed(options.gimbalYawDegree)}" drone-dji:GpsLatitude="${options.latitude}" drone-dji:GpsLongitude="${options.longitude}" drone-dji:RtkFlag="50"/>
</rdf:RDF></x:xmpmeta><?xpacket end="w"?>`;
  return sharp(pixels, { raw: { width, height, channels: 3 } })
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
