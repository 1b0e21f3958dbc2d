// Reading a QR code from a camera frame or a photo: the browser's own reader
// (BarcodeDetector, the Shape Detection API) where it has one, otherwise jsQR (pure JS,
// pinned in package.json) on the picture drawn, downscaled, to a canvas. jsQR is loaded
// on first use (a chunk of its own), so the first screen's bundle does not carry it.

interface Detected {
  rawValue: string;
}
interface Detector {
  detect(source: ImageBitmapSource): Promise<Detected[]>;
}
type DetectorClass = new (options: { formats: string[] }) => Detector;
type JsQr = typeof import("jsqr").default;

/** Camera frames are read at most this wide (a few frames a second stay cheap). */
export const FRAME_WIDTH = 640;
/** Photos at most this wide (a QR can be a small part of a phone photo). */
export const PHOTO_WIDTH = 1280;

function nativeDetector(): Detector | null {
  const Ctor = (globalThis as unknown as { BarcodeDetector?: DetectorClass }).BarcodeDetector;
  if (!Ctor) return null;
  try {
    return new Ctor({ formats: ["qr_code"] });
  } catch {
    return null;
  }
}

function sizeOf(source: HTMLVideoElement | ImageBitmap): [number, number] {
  return source instanceof HTMLVideoElement ? [source.videoWidth, source.videoHeight] : [source.width, source.height];
}

/** A QR reader; `read` answers the first code's text in the picture, or null. */
export interface QrReader {
  read(source: HTMLVideoElement | ImageBitmap, maxWidth: number): Promise<string | null>;
}

class NativeReader implements QrReader {
  constructor(private readonly detector: Detector) {}

  async read(source: HTMLVideoElement | ImageBitmap): Promise<string | null> {
    const found = await this.detector.detect(source);
    return found[0]?.rawValue ?? null;
  }
}

class CanvasReader implements QrReader {
  private readonly canvas = document.createElement("canvas");

  constructor(private readonly decode: JsQr) {}

  async read(source: HTMLVideoElement | ImageBitmap, maxWidth: number): Promise<string | null> {
    const [w, h] = sizeOf(source);
    if (!w || !h) return null;
    const scale = Math.min(1, maxWidth / w);
    const width = Math.max(1, Math.round(w * scale));
    const height = Math.max(1, Math.round(h * scale));
    this.canvas.width = width;
    this.canvas.height = height;
    const ctx = this.canvas.getContext("2d", { willReadFrequently: true });
    if (!ctx) return null;
    ctx.drawImage(source, 0, 0, width, height);
    const pixels = ctx.getImageData(0, 0, width, height);
    const found = this.decode(pixels.data, width, height, { inversionAttempts: "dontInvert" });
    return found ? found.data : null;
  }
}

let loaded: Promise<QrReader> | null = null;

/** The reader this browser has (jsQR's chunk is fetched the first time it is needed). */
export function qrReader(): Promise<QrReader> {
  if (!loaded) {
    const native = nativeDetector();
    loaded = native
      ? Promise.resolve(new NativeReader(native))
      : import("jsqr").then((m) => new CanvasReader(m.default));
    loaded.catch(() => {
      loaded = null; // a failed chunk load is tried again next time
    });
  }
  return loaded;
}
