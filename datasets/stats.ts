// Per-channel mean and standard deviation of byte images on the 0..1 scale,
// from a histogram of byte values (exact, one pass, no float accumulation over
// millions of pixels).

/** Mean and population std per channel of `count` CHW images of `channels` × `pixels` bytes. */
export function channelMeanStd(images: Uint8Array, count: number, channels: number, pixels: number): { mean: number[]; std: number[] } {
  const histograms = Array.from({ length: channels }, () => new Float64Array(256));
  const plane = pixels;
  for (let n = 0; n < count; n++) {
    for (let c = 0; c < channels; c++) {
      const hist = histograms[c];
      const start = (n * channels + c) * plane;
      const end = start + plane;
      for (let i = start; i < end; i++) hist[images[i]]++;
    }
  }
  const mean: number[] = [];
  const std: number[] = [];
  for (const hist of histograms) {
    let total = 0;
    let sum = 0;
    for (let v = 0; v < 256; v++) {
      total += hist[v];
      sum += hist[v] * v;
    }
    const m = total > 0 ? sum / total : 0;
    let sq = 0;
    for (let v = 0; v < 256; v++) sq += hist[v] * (v - m) * (v - m);
    const s = total > 0 ? Math.sqrt(sq / total) : 0;
    mean.push(m / 255);
    // A constant channel would divide by zero when normalising; 1 leaves it centred.
    std.push(s > 0 ? s / 255 : 1);
  }
  return { mean, std };
}
