// The login QR, drawn by the browser from the ticket's signed `qr_text` (ISO/IEC 18004: byte
// mode, error correction M, the smallest version that holds the text). Where zxing-cpp encodes
// the text in byte mode too, the symbol is the one authsvc draws (`authsvc/qrimage.py`), module
// for module, mask choice included: the penalty rules are counted as zxing-cpp's MaskUtil counts
// them (`qrmask.py`).
// Drawing here saves the broker ~0.5 ms of CPU per ticket; `/api/qr.png` still draws on the
// server for clients without this script.
"use strict";

(function (root) {
  const QUIET_ZONE = 4;
  const MAX_VERSION = 40;
  // Level M, per version: [EC codewords per block, blocks of group 1, data codewords in each,
  // blocks of group 2 (each one data codeword longer)].
  const BLOCKS_M = [
    null,
    [10, 1, 16, 0], [16, 1, 28, 0], [26, 1, 44, 0], [18, 2, 32, 0], [24, 2, 43, 0],
    [16, 4, 27, 0], [18, 4, 31, 0], [22, 2, 38, 2], [22, 3, 36, 2], [26, 4, 43, 1],
    [30, 1, 50, 4], [22, 6, 36, 2], [22, 8, 37, 1], [24, 4, 40, 5], [24, 5, 41, 5],
    [28, 7, 45, 3], [28, 10, 46, 1], [26, 9, 43, 4], [26, 3, 44, 11], [26, 3, 41, 13],
    [26, 17, 42, 0], [28, 17, 46, 0], [28, 4, 47, 14], [28, 6, 45, 14], [28, 8, 47, 13],
    [28, 19, 46, 4], [28, 22, 45, 3], [28, 3, 45, 23], [28, 21, 45, 7], [28, 19, 47, 10],
    [28, 2, 46, 29], [28, 10, 46, 23], [28, 14, 46, 21], [28, 14, 46, 23], [28, 12, 47, 26],
    [28, 6, 47, 34], [28, 29, 46, 14], [28, 13, 46, 32], [28, 40, 47, 7], [28, 18, 47, 31],
  ];
  const LEVEL_M = 0; // the two format bits of level M
  const PENALTY = { runs: 3, blocks: 3, finders: 40, balance: 10 };

  // GF(256) with the QR polynomial x⁸ + x⁴ + x³ + x² + 1.
  const EXP = new Uint8Array(512);
  const LOG = new Uint8Array(256);
  for (let i = 0, x = 1; i < 255; i++, x = (x << 1) ^ (x & 0x80 ? 0x11d : 0)) {
    EXP[i] = EXP[i + 255] = x;
    LOG[x] = i;
  }
  const multiply = (a, b) => (a && b ? EXP[LOG[a] + LOG[b]] : 0);

  function generator(degree) {
    let poly = [1];
    for (let i = 0; i < degree; i++) {
      const next = new Array(poly.length + 1).fill(0);
      poly.forEach((c, j) => { next[j] ^= c; next[j + 1] ^= multiply(c, EXP[i]); });
      poly = next;
    }
    return poly;
  }

  function errorCorrection(data, gen) {
    const degree = gen.length - 1;
    const rest = new Array(degree).fill(0);
    for (const byte of data) {
      const factor = byte ^ rest.shift();
      rest.push(0);
      for (let i = 0; i < degree; i++) rest[i] ^= multiply(gen[i + 1], factor);
    }
    return rest;
  }

  const dataCodewords = (v) => { const [, n1, d1, n2] = BLOCKS_M[v]; return n1 * d1 + n2 * (d1 + 1); };
  const countBits = (v) => (v < 10 ? 8 : 16);

  function chooseVersion(length) {
    for (let v = 1; v <= MAX_VERSION; v++) {
      if (4 + countBits(v) + 8 * length <= 8 * dataCodewords(v)) return v;
    }
    throw new RangeError("text too long for a QR code");
  }

  // Mode, count, the bytes, terminator, pad codewords; then split into blocks, each with its
  // error correction, interleaved.
  function codewords(bytes, v) {
    const bits = [];
    const put = (value, n) => { for (let i = n - 1; i >= 0; i--) bits.push((value >>> i) & 1); };
    const capacity = 8 * dataCodewords(v);
    put(0b0100, 4);
    put(bytes.length, countBits(v));
    bytes.forEach((b) => put(b, 8));
    put(0, Math.min(4, capacity - bits.length));
    put(0, (8 - (bits.length % 8)) % 8);
    for (let pad = 0xec; bits.length < capacity; pad ^= 0xec ^ 0x11) put(pad, 8);
    const data = [];
    for (let i = 0; i < bits.length; i += 8) data.push(bits.slice(i, i + 8).reduce((a, b) => (a << 1) | b));

    const [ecLength, n1, d1, n2] = BLOCKS_M[v];
    const blocks = [];
    for (let b = 0, at = 0; b < n1 + n2; b++) {
      const length = b < n1 ? d1 : d1 + 1;
      blocks.push(data.slice(at, at + length));
      at += length;
    }
    const gen = generator(ecLength);
    const ec = blocks.map((block) => errorCorrection(block, gen));
    const out = [];
    for (let i = 0; i <= d1; i++) blocks.forEach((block) => { if (i < block.length) out.push(block[i]); });
    for (let i = 0; i < ecLength; i++) ec.forEach((block) => out.push(block[i]));
    return out;
  }

  function alignmentCentres(v) {
    if (v === 1) return [];
    const count = Math.floor(v / 7) + 2;
    const size = 17 + 4 * v;
    const step = v === 32 ? 26 : Math.ceil((4 * v + 4) / (2 * count - 2)) * 2;
    const centres = [6];
    for (let at = size - 7; centres.length < count; at -= step) centres.splice(1, 0, at);
    return centres;
  }

  // BCH remainder of `value` (already shifted left by the degree of `poly`).
  function bch(value, poly) {
    const degree = Math.floor(Math.log2(poly));
    let rest = value;
    for (let d = Math.floor(Math.log2(rest || 1)); d >= degree; d--) {
      if ((rest >>> d) & 1) rest ^= poly << (d - degree);
    }
    return rest;
  }

  class Grid {
    // `fixed`: the function patterns' modules, which no mask touches.
    constructor(size, dark = new Uint8Array(size * size), fixed = new Uint8Array(size * size)) {
      this.size = size;
      this.dark = dark;
      this.fixed = fixed;
    }
    set(row, col, dark) {
      const i = row * this.size + col;
      this.dark[i] = dark ? 1 : 0;
      this.fixed[i] = 1;
    }
  }

  function drawFunctionPatterns(s, v) {
    const n = s.size;
    for (let i = 0; i < n; i++) { s.set(6, i, i % 2 === 0); s.set(i, 6, i % 2 === 0); }
    for (const [r0, c0] of [[3, 3], [3, n - 4], [n - 4, 3]]) {
      for (let dr = -4; dr <= 4; dr++) {
        for (let dc = -4; dc <= 4; dc++) {
          const r = r0 + dr, c = c0 + dc;
          if (r < 0 || r >= n || c < 0 || c >= n) continue;
          const ring = Math.max(Math.abs(dr), Math.abs(dc));
          s.set(r, c, ring !== 2 && ring !== 4);
        }
      }
    }
    const centres = alignmentCentres(v);
    for (const r0 of centres) {
      for (const c0 of centres) {
        const onFinder = (r0 === 6 && c0 === 6) || (r0 === 6 && c0 === n - 7) || (r0 === n - 7 && c0 === 6);
        if (onFinder) continue;
        for (let dr = -2; dr <= 2; dr++) {
          for (let dc = -2; dc <= 2; dc++) s.set(r0 + dr, c0 + dc, Math.max(Math.abs(dr), Math.abs(dc)) !== 1);
        }
      }
    }
    drawFormat(s, 0); // reserve the format modules; redrawn once the mask is chosen
    if (v >= 7) {
      const bits = (v << 12) | bch(v << 12, 0x1f25);
      for (let i = 0; i < 18; i++) {
        const dark = (bits >>> i) & 1, a = n - 11 + (i % 3), b = Math.floor(i / 3);
        s.set(b, a, dark);
        s.set(a, b, dark);
      }
    }
  }

  function drawFormat(s, mask) {
    const n = s.size;
    const data = (LEVEL_M << 3) | mask;
    const bits = ((data << 10) | bch(data << 10, 0x537)) ^ 0x5412;
    const bit = (i) => (bits >>> i) & 1;
    for (let i = 0; i <= 5; i++) s.set(i, 8, bit(i));
    s.set(7, 8, bit(6));
    s.set(8, 8, bit(7));
    s.set(8, 7, bit(8));
    for (let i = 9; i < 15; i++) s.set(8, 14 - i, bit(i));
    for (let i = 0; i < 8; i++) s.set(8, n - 1 - i, bit(i));
    for (let i = 8; i < 15; i++) s.set(n - 15 + i, 8, bit(i));
    s.set(n - 8, 8, 1);
  }

  // The codewords' bits in the two-column zigzag from the bottom right, around the patterns.
  function placeData(s, words) {
    const n = s.size;
    let i = 0;
    for (let right = n - 1; right >= 1; right -= 2) {
      if (right === 6) right = 5;
      const upward = ((right + 1) & 2) === 0;
      for (let step = 0; step < n; step++) {
        const row = upward ? n - 1 - step : step;
        for (const col of [right, right - 1]) {
          const at = row * n + col;
          if (s.fixed[at]) continue;
          s.dark[at] = i < words.length * 8 ? (words[i >>> 3] >>> (7 - (i & 7))) & 1 : 0;
          i++;
        }
      }
    }
  }

  const MASKS = [
    (r, c) => (r + c) % 2 === 0,
    (r) => r % 2 === 0,
    (r, c) => c % 3 === 0,
    (r, c) => (r + c) % 3 === 0,
    (r, c) => (Math.floor(r / 2) + Math.floor(c / 3)) % 2 === 0,
    (r, c) => ((r * c) % 2) + ((r * c) % 3) === 0,
    (r, c) => (((r * c) % 2) + ((r * c) % 3)) % 2 === 0,
    (r, c) => (((r + c) % 2) + ((r * c) % 3)) % 2 === 0,
  ];

  function masked(s, mask) {
    const out = new Grid(s.size, s.dark.slice(), s.fixed);
    const n = s.size;
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < n; c++) {
        if (!s.fixed[r * n + c] && MASKS[mask](r, c)) out.dark[r * n + c] ^= 1;
      }
    }
    drawFormat(out, mask);
    return out;
  }

  // The penalty of one line (a row, or a column): `at(k)` is its k-th module.
  function linePenalty(at, n) {
    let score = 0;
    for (let k = 0, run = 0; k < n; k++) {
      run = k > 0 && at(k) === at(k - 1) ? run + 1 : 1;
      if (run === 5) score += PENALTY.runs;
      else if (run > 5) score += 1;
    }
    // A finder-like 1:1:3:1:1 ending at k, with four light modules (or the edge) on one side.
    const light = (k) => k < 0 || k >= n || !at(k);
    for (let k = 6; k < n; k++) {
      const core = at(k) && at(k - 2) && at(k - 3) && at(k - 4) && at(k - 6) && !at(k - 1) && !at(k - 5);
      if (!core) continue;
      const before = light(k - 7) && light(k - 8) && light(k - 9) && light(k - 10);
      const after = light(k + 1) && light(k + 2) && light(k + 3) && light(k + 4);
      if (before || after) score += PENALTY.finders;
    }
    return score;
  }

  function penalty(s) {
    const n = s.size, d = s.dark;
    let score = 0;
    for (let r = 0; r < n; r++) score += linePenalty((k) => d[r * n + k], n);
    for (let c = 0; c < n; c++) score += linePenalty((k) => d[k * n + c], n);
    let darkCount = 0;
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < n; c++) {
        const x = d[r * n + c];
        darkCount += x;
        if (r > 0 && c > 0 && x === d[r * n + c - 1] && x === d[(r - 1) * n + c] && x === d[(r - 1) * n + c - 1]) {
          score += PENALTY.blocks;
        }
      }
    }
    return score + PENALTY.balance * Math.floor((Math.abs(2 * darkCount - n * n) * 10) / (n * n));
  }

  // {size, dark: Uint8Array (row-major, 1 = dark, no quiet zone), mask}; `mask` forces one.
  function encode(text, mask) {
    const bytes = Array.from(new TextEncoder().encode(text));
    const v = chooseVersion(bytes.length);
    const base = new Grid(17 + 4 * v);
    drawFunctionPatterns(base, v);
    placeData(base, codewords(bytes, v));
    const masks = mask === undefined ? MASKS.map((_, k) => k) : [mask];
    const candidates = masks.map((k) => masked(base, k));
    const scores = candidates.map(penalty);
    const best = scores.indexOf(Math.min(...scores)); // ties: the lowest mask
    return { size: base.size, dark: candidates[best].dark, mask: masks[best] };
  }

  // A PNG data URL, one pixel per module and a quiet zone; the page scales it up pixelated.
  function dataUrl(symbol, document) {
    const full = symbol.size + 2 * QUIET_ZONE;
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = full;
    const context = canvas.getContext("2d");
    const image = context.createImageData(full, full);
    image.data.fill(255);
    for (let r = 0; r < symbol.size; r++) {
      for (let c = 0; c < symbol.size; c++) {
        if (!symbol.dark[r * symbol.size + c]) continue;
        const at = 4 * ((r + QUIET_ZONE) * full + c + QUIET_ZONE);
        image.data[at] = image.data[at + 1] = image.data[at + 2] = 0;
      }
    }
    context.putImageData(image, 0, 0);
    return canvas.toDataURL("image/png");
  }

  const api = { encode, dataUrl };
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.QrDraw = api;
})(typeof window === "object" ? window : globalThis);
