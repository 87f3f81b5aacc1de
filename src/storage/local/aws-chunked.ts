/**
 * Decoder of `Content-Encoding: aws-chunked` bodies (the AWS SDK v3's default for streamed uploads, and
 * the Android/Java SDKs' signed form), as a Transform that outputs the object's bytes:
 *
 *   <hex size>[;chunk-signature=<sig>]\r\n <data>\r\n … 0[;chunk-signature=<sig>]\r\n [trailers\r\n] \r\n
 *
 * In signed mode each chunk's signature is checked against the chain seeded by the request signature,
 * and a trailer signature (x-amz-trailer-signature) when trailers are signed. Trailing headers (the
 * checksum) are collected for the caller. No library implements this on the server side.
 *
 * The body cannot outgrow its declaration: a chunk header that would take the object past the declared
 * decoded length (x-amz-decoded-content-length) is refused before any of its data is read, and the
 * framing around the data is bounded too (header lines, trailers, what follows the final chunk), so a
 * credential cannot make the store read or write more than it announced.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { sameHex } from './s3-auth.ts';
import { S3Error } from './s3-errors.ts';
import type { SignatureContext } from './sigv4.ts';

const MAX_LINE = 4096;
/** Trailing headers: clients send one or two (a checksum and its signature). */
const MAX_TRAILER_LINES = 16;
/** After the final chunk only line ends may follow (some clients add one CRLF). */
const MAX_AFTER_END = 64;
const CRLF = Buffer.from('\r\n');

export interface ChunkSigning {
  context: SignatureContext;
  /** The request's own signature, which seeds the chain. */
  seedSignature: string;
  /** Whether trailers carry an x-amz-trailer-signature. */
  signedTrailer: boolean;
}

type State = 'size' | 'data' | 'data-end' | 'trailer' | 'done';

export class AwsChunkedDecoder extends Transform {
  /** Trailing headers, lower-cased names, available after the stream ends. */
  readonly trailers: Record<string, string> = {};
  /** Decoded bytes so far, counting the chunk being read in full (its header declared them). */
  private announced = 0;
  private afterEnd = 0;
  private state: State = 'size';
  private line = Buffer.alloc(0);
  private remaining = 0;
  private chunkSignature: string | undefined;
  private chunkHash: Hash | undefined;
  private previousSignature: string;
  private readonly trailerLines: string[] = [];

  /**
   * `maxBytes`: the decoded length the request declared; a chunk that would go past it is refused
   * (IncompleteBody, as S3 answers a body that does not match x-amz-decoded-content-length).
   */
  constructor(
    private readonly signing: ChunkSigning | undefined,
    private readonly maxBytes = Number.MAX_SAFE_INTEGER,
  ) {
    super();
    this.previousSignature = signing?.seedSignature ?? '';
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.consume(chunk).then(() => callback(), callback);
  }

  override _flush(callback: TransformCallback): void {
    if (this.state !== 'done') {
      callback(new S3Error('IncompleteBody', 'The aws-chunked body ended before its final chunk.'));
      return;
    }
    callback();
  }

  private async consume(input: Buffer): Promise<void> {
    let offset = 0;
    while (offset < input.length) {
      switch (this.state) {
        case 'data': {
          const take = Math.min(this.remaining, input.length - offset);
          const part = input.subarray(offset, offset + take);
          this.chunkHash?.update(part);
          this.push(part);
          this.remaining -= take;
          offset += take;
          if (this.remaining === 0) this.state = 'data-end';
          break;
        }
        case 'data-end': {
          const [line, next] = this.readLine(input, offset);
          offset = next;
          if (line === undefined) break;
          if (line.length !== 0) throw malformed('a chunk is longer than its declared size');
          await this.checkChunkSignature();
          this.state = 'size';
          break;
        }
        case 'size': {
          const [line, next] = this.readLine(input, offset);
          offset = next;
          if (line !== undefined) await this.startChunk(line.toString('latin1'));
          break;
        }
        case 'trailer': {
          const [line, next] = this.readLine(input, offset);
          offset = next;
          if (line === undefined) break;
          if (line.length === 0) await this.finishTrailers();
          else if (this.trailerLines.length === MAX_TRAILER_LINES) throw malformed('too many trailers');
          else this.trailerLines.push(line.toString('latin1'));
          break;
        }
        case 'done': {
          // Some clients end with an extra CRLF; anything else after the end is an error.
          const rest = input.subarray(offset);
          this.afterEnd += rest.length;
          if (this.afterEnd > MAX_AFTER_END || rest.toString('latin1').trim() !== '')
            throw malformed('data after the final chunk');
          return;
        }
      }
    }
  }

  /** Reads up to CRLF, buffering partial lines across input chunks; [undefined, end] when incomplete. */
  private readLine(input: Buffer, offset: number): [Buffer | undefined, number] {
    if (this.line.length > 0 && this.line[this.line.length - 1] === 0x0d && input[offset] === 0x0a) {
      const line = this.line.subarray(0, this.line.length - 1);
      this.line = Buffer.alloc(0);
      return [line, offset + 1];
    }
    const end = input.indexOf(CRLF, offset);
    if (end === -1) {
      // Keep the partial line; a CR at its end may pair with an LF at the start of the next input.
      this.line = Buffer.concat([this.line, input.subarray(offset)]);
      if (this.line.length > MAX_LINE) throw malformed('a chunk header line is too long');
      return [undefined, input.length];
    }
    const line = Buffer.concat([this.line, input.subarray(offset, end)]);
    this.line = Buffer.alloc(0);
    if (line.length > MAX_LINE) throw malformed('a chunk header line is too long');
    return [line, end + 2];
  }

  private async startChunk(header: string): Promise<void> {
    const match = /^([0-9a-fA-F]{1,16})(?:;chunk-signature=([0-9a-f]{64}))?$/.exec(header);
    if (!match) throw malformed(`bad chunk header "${header.slice(0, 80)}"`);
    this.remaining = Number.parseInt(match[1]!, 16);
    if (this.remaining > this.maxBytes - this.announced) {
      throw new S3Error(
        'IncompleteBody',
        `The aws-chunked body carries more than the ${this.maxBytes} bytes declared in x-amz-decoded-content-length.`,
        { NumberBytesExpected: String(this.maxBytes) },
      );
    }
    this.announced += this.remaining;
    this.chunkSignature = match[2];
    if (this.signing && !this.chunkSignature) throw malformed('a chunk has no chunk-signature');
    this.chunkHash = this.signing ? createHash('sha256') : undefined;
    if (this.remaining > 0) {
      this.state = 'data';
      return;
    }
    if (this.signing) await this.checkChunkSignature();
    this.state = 'trailer';
  }

  private async checkChunkSignature(): Promise<void> {
    if (!this.signing) return;
    const hash = this.chunkHash!.digest('hex');
    const expected = await this.signing.context.chunkSignature(this.previousSignature, hash);
    if (!sameHex(expected, this.chunkSignature!)) {
      throw new S3Error('SignatureDoesNotMatch', 'A chunk signature of the aws-chunked body does not match.');
    }
    this.previousSignature = expected;
    this.chunkHash = undefined;
  }

  private async finishTrailers(): Promise<void> {
    let trailerSignature: string | undefined;
    const signedLines: string[] = [];
    for (const line of this.trailerLines) {
      const colon = line.indexOf(':');
      if (colon <= 0) throw malformed(`bad trailer "${line.slice(0, 80)}"`);
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'x-amz-trailer-signature') trailerSignature = value;
      else {
        this.trailers[name] = value;
        signedLines.push(`${name}:${value}\n`);
      }
    }
    if (this.signing?.signedTrailer) {
      if (!trailerSignature) throw new S3Error('SignatureDoesNotMatch', 'The trailer signature is missing.');
      const hash = createHash('sha256').update(signedLines.join('')).digest('hex');
      const expected = await this.signing.context.trailerSignature(this.previousSignature, hash);
      if (!sameHex(expected, trailerSignature)) {
        throw new S3Error(
          'SignatureDoesNotMatch',
          'The trailer signature of the aws-chunked body does not match.',
        );
      }
    }
    this.state = 'done';
  }
}

function malformed(detail: string): S3Error {
  return new S3Error('IncompleteBody', `The aws-chunked body is malformed: ${detail}.`);
}
