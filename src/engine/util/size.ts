// Byte sizes for messages people read: GiB from half a GiB up ("needs 1.4 GiB, 0.6 GiB free"), MiB below.
export const fmtSize = (n: number): string =>
  n >= 2 ** 29 ? `${(n / 2 ** 30).toFixed(1)} GiB` : `${Math.ceil(n / 2 ** 20)} MiB`;
