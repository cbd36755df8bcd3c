/**
 * A multipart/form-data parser for the emulator's presigned-POST storage endpoint, written
 * independently of the client's form writer.
 */

/** One form part. */
export interface FormPart {
  readonly name: string;
  readonly filename: string | undefined;
  readonly contentType: string | undefined;
  readonly data: Buffer;
}

/**
 * Parses a multipart/form-data body.
 *
 * @param body - the request body.
 * @param contentType - the request's Content-Type header (carries the boundary).
 * @returns the parts in order.
 * @throws Error for a missing boundary or a malformed body.
 */
export function parseMultipart(body: Buffer, contentType: string | undefined): FormPart[] {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType ?? '');
  if (m === null) throw new Error('multipart body without a boundary');
  const boundary = Buffer.from(`--${m[1] ?? m[2]!.trim()}`);
  const parts: FormPart[] = [];
  let at = body.indexOf(boundary);
  if (at < 0) throw new Error('multipart body without its first boundary');
  for (;;) {
    at += boundary.length;
    if (body.subarray(at, at + 2).toString() === '--') return parts;
    if (body.subarray(at, at + 2).toString() !== '\r\n') throw new Error('malformed multipart boundary line');
    at += 2;
    const headerEnd = body.indexOf('\r\n\r\n', at);
    if (headerEnd < 0) throw new Error('multipart part without a header end');
    const headers = body.subarray(at, headerEnd).toString('utf8').split('\r\n');
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), boundary]), headerEnd + 4);
    if (next < 0) throw new Error('multipart part without a closing boundary');
    let name = '';
    let filename: string | undefined;
    let type: string | undefined;
    for (const h of headers) {
      const [key, ...rest] = h.split(':');
      const value = rest.join(':').trim();
      if (key!.toLowerCase() === 'content-disposition') {
        name = /\bname="([^"]*)"/.exec(value)?.[1] ?? '';
        filename = /\bfilename="([^"]*)"/.exec(value)?.[1];
      } else if (key!.toLowerCase() === 'content-type') {
        type = value;
      }
    }
    parts.push({ name, filename, contentType: type, data: body.subarray(headerEnd + 4, next) });
    at = next + 2;
  }
}
