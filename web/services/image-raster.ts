/**
 * Turns a photo (camera or file) into the raster image the image tasks take:
 * decoded by the browser (EXIF orientation applied), scaled down so its
 * longer side is at most `maxSide`, flattened onto white, 3 bytes per pixel.
 */
import type { Raster } from '#core/pipelines/image.ts';

/** The file is not an image the browser can decode. */
export class UnreadableImageError extends Error {
  override readonly name = 'UnreadableImageError';
  readonly code = 'unreadable-image';
}

/** Decodes and scales `file` (see the module comment). Throws {@link UnreadableImageError}. */
export async function imageToRaster(
  file: Blob,
  maxSide: number,
  options: { signal?: AbortSignal } = {},
): Promise<Raster<3>> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  } catch {
    throw new UnreadableImageError('This file is not a picture this browser can open. Try a JPEG or PNG photo.');
  }
  options.signal?.throwIfAborted();
  try {
    const scale = Math.min(1, maxSide / Math.max(bitmap.width, bitmap.height));
    const width = Math.max(1, Math.round(bitmap.width * scale));
    const height = Math.max(1, Math.round(bitmap.height * scale));
    const canvas = new OffscreenCanvas(width, height);
    const context = canvas.getContext('2d', { willReadFrequently: true });
    if (!context) throw new UnreadableImageError('This browser cannot draw the picture.');
    context.fillStyle = '#ffffff';
    context.fillRect(0, 0, width, height);
    context.imageSmoothingQuality = 'high';
    context.drawImage(bitmap, 0, 0, width, height);
    const rgba = context.getImageData(0, 0, width, height).data;
    const data = new Uint8Array(width * height * 3);
    for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
      data[j] = rgba[i] as number;
      data[j + 1] = rgba[i + 1] as number;
      data[j + 2] = rgba[i + 2] as number;
    }
    return { width, height, channels: 3, data };
  } finally {
    bitmap.close();
  }
}
