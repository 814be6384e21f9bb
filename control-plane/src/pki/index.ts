// The server's PKI: farm CA, serving certificate, signing key and farm key (see pki.ts).
export { ensurePki, type Pki, type PkiOptions } from "./pki";
export { PkiFileError } from "./files";
