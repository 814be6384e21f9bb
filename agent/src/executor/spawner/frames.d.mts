export declare const Op: { readonly Run: 1; readonly Pause: 2; readonly Resume: 3; readonly Stop: 4 };
export type Op = (typeof Op)[keyof typeof Op];
export declare const Ev: {
  readonly Started: 1;
  readonly Stdout: 2;
  readonly Stderr: 3;
  readonly Exit: 4;
  readonly Error: 5;
};
export declare const HEADER: 9;
export declare function frame(op: number, id: number, payload?: Buffer): Buffer;
export declare function parseFrames(buf: Buffer, onFrame: (op: number, id: number, body: Buffer) => void): Buffer;
