/**
 * CRC-32/MPEG-2 (ISO/IEC 13818-1 annex A), the checksum that ends every PSI section: polynomial
 * 0x04C11DB7, initial value 0xFFFFFFFF, bits not reflected, no final XOR.
 */
const TABLE = new Uint32Array(256);
for (let i = 0; i < 256; i++) {
  let crc = i << 24;
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x80000000 ? (crc << 1) ^ 0x04c11db7 : crc << 1;
  TABLE[i] = crc >>> 0;
}

export function crc32Mpeg2(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0xffffffff;
  for (let i = start; i < end; i++) crc = ((crc << 8) ^ TABLE[((crc >>> 24) ^ bytes[i]) & 0xff]) >>> 0;
  return crc >>> 0;
}
