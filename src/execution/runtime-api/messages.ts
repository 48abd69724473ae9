/**
 * Golem's Runtime API (`ya-runtime-api`, package `ya_runtime_api`, file `runtime.proto`): the messages an ExeUnit
 * supervisor and a service-mode runtime exchange over the runtime's stdin/stdout. Field numbers are those of the
 * .proto (quoted beside each encoder); `u64` values travel as JavaScript numbers and are refused above 2^53.
 */
import { ProtoWriter, read, readFields } from './protobuf.ts';

/** Output capture of a process: `atEnd` = keep the last n bytes; absent = /dev/null. */
export interface Output {
  atEnd: number;
}

export interface Network {
  addr: string;
  gateway: string;
  mask: string;
  ifAddr: string;
}

export const NetworkInterface = { Vpn: 0, Inet: 1 } as const;
export type NetworkInterface = (typeof NetworkInterface)[keyof typeof NetworkInterface];

export interface RunProcess {
  bin: string;
  args: string[];
  workDir: string;
  stdout?: Output;
  stderr?: Output;
}

export interface KillProcess {
  pid: number;
  signal: number;
}

export interface CreateNetwork {
  networks: Network[];
  hosts: Record<string, string>;
  interface: NetworkInterface;
}

export type RequestCommand =
  | { kind: 'hello'; version: string }
  | ({ kind: 'run' } & RunProcess)
  | ({ kind: 'kill' } & KillProcess)
  | { kind: 'shutdown' }
  | ({ kind: 'network' } & CreateNetwork);

export interface Request {
  id: number;
  /** Absent when the sender used a command this side does not know (the server answers "unknown command"). */
  command?: RequestCommand;
}

export const ErrorCode = { Internal: 0, NotFound: 1, BadRequest: 2 } as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface ProcessStatus {
  pid: number;
  running: boolean;
  returnCode: number;
  stdout: Uint8Array;
  stderr: Uint8Array;
}

export type RuntimeStatus =
  | { kind: 'state'; name: string; value: Uint8Array }
  | { kind: 'counter'; name: string; value: number }
  | { kind: 'none' };

export type EndpointKind = 'unixStream' | 'unixDatagram' | 'udpDatagram' | 'tcpListener' | 'tcpStream';
export interface Endpoint {
  kind: EndpointKind;
  address: string;
}
const endpointFields: Record<EndpointKind, number> = {
  unixStream: 1,
  unixDatagram: 2,
  udpDatagram: 3,
  tcpListener: 4,
  tcpStream: 5,
};

export type ResponseCommand =
  | { kind: 'error'; code: ErrorCode; message: string; context: Record<string, string> }
  | { kind: 'hello'; version: string }
  | { kind: 'run'; pid: number }
  | { kind: 'kill' }
  | { kind: 'shutdown' }
  | ({ kind: 'status' } & ProcessStatus)
  | { kind: 'rtStatus'; status: RuntimeStatus }
  | { kind: 'network'; endpoint?: Endpoint };

export interface Response {
  /** true: an event (id 0); false: the answer to request `id`. */
  event: boolean;
  id: number;
  command?: ResponseCommand;
}

// ---- encoding -------------------------------------------------------------------------------------------------

function writeOutput(w: ProtoWriter, output: Output): void {
  w.tag(2, 0).varint(output.atEnd); // Output.at_end = 2 (oneof: written even when 0)
}

function writeNetwork(w: ProtoWriter, n: Network): void {
  w.stringField(1, n.addr).stringField(2, n.gateway).stringField(3, n.mask).stringField(4, n.ifAddr);
}

export function encodeRequest(request: Request): Uint8Array {
  const w = new ProtoWriter().uint64Field(1, request.id); // Request.id = 1
  const c = request.command;
  if (c === undefined) return w.finish();
  switch (c.kind) {
    case 'hello': // Request.hello = 2 { version = 1 }
      w.messageField(2, (m) => m.stringField(1, c.version));
      break;
    case 'run': // Request.run = 10 { bin = 1, args = 2, work_dir = 3, stdout = 4, stderr = 5 }
      w.messageField(10, (m) => {
        m.stringField(1, c.bin);
        for (const arg of c.args) m.stringAlways(2, arg);
        m.stringField(3, c.workDir);
        if (c.stdout) m.messageField(4, (o) => writeOutput(o, c.stdout!));
        if (c.stderr) m.messageField(5, (o) => writeOutput(o, c.stderr!));
      });
      break;
    case 'kill': // Request.kill = 11 { pid = 1, signal = 2 }
      w.messageField(11, (m) => m.uint64Field(1, c.pid).int32Field(2, c.signal));
      break;
    case 'shutdown': // Request.shutdown = 12 {}
      w.messageField(12, () => {});
      break;
    case 'network': // Request.network = 30 { networks = 1, hosts = 2, interface = 3 }
      w.messageField(30, (m) => {
        for (const n of c.networks) m.messageField(1, (nm) => writeNetwork(nm, n));
        m.stringMapField(2, c.hosts);
        m.int32Field(3, c.interface);
      });
      break;
  }
  return w.finish();
}

export function encodeResponse(response: Response): Uint8Array {
  const w = new ProtoWriter().boolField(1, response.event).uint64Field(2, response.id); // event = 1, id = 2
  const c = response.command;
  if (c === undefined) return w.finish();
  switch (c.kind) {
    case 'error': // Response.error = 3 { code = 1, message = 2, context = 3 }
      w.messageField(3, (m) =>
        m.int32Field(1, c.code).stringField(2, c.message).stringMapField(3, c.context),
      );
      break;
    case 'hello': // Response.hello = 4 { version = 1 }
      w.messageField(4, (m) => m.stringField(1, c.version));
      break;
    case 'run': // Response.run = 10 { pid = 1 }
      w.messageField(10, (m) => m.uint64Field(1, c.pid));
      break;
    case 'kill': // Response.kill = 11 {}
      w.messageField(11, () => {});
      break;
    case 'shutdown': // Response.shutdown = 12 {}
      w.messageField(12, () => {});
      break;
    case 'status': // Response.status = 20 { pid = 1, running = 2, return_code = 3, stdout = 4, stderr = 5 }
      w.messageField(20, (m) =>
        m
          .uint64Field(1, c.pid)
          .boolField(2, c.running)
          .int32Field(3, c.returnCode)
          .bytesField(4, c.stdout)
          .bytesField(5, c.stderr),
      );
      break;
    case 'rtStatus': // Response.rt_status = 21 { oneof kind: state = 1 { name, value }, counter = 2 { name, value } }
      w.messageField(21, (m) => {
        const s = c.status;
        if (s.kind === 'state') m.messageField(1, (x) => x.stringField(1, s.name).bytesField(2, s.value));
        else if (s.kind === 'counter')
          m.messageField(2, (x) => x.stringField(1, s.name).doubleField(2, s.value));
      });
      break;
    case 'network': // Response.network = 30 { oneof endpoint: unix_stream = 1 … tcp_stream = 5 }
      w.messageField(30, (m) => {
        if (c.endpoint) m.stringAlways(endpointFields[c.endpoint.kind], c.endpoint.address);
      });
      break;
  }
  return w.finish();
}

// ---- decoding -------------------------------------------------------------------------------------------------

function decodeOutput(bytes: Uint8Array): Output {
  let atEnd = 0;
  for (const f of readFields(bytes)) if (f.field === 2) atEnd = read.uint32(f, 'Output.at_end');
  return { atEnd };
}

function decodeNetwork(bytes: Uint8Array): Network {
  const n: Network = { addr: '', gateway: '', mask: '', ifAddr: '' };
  for (const f of readFields(bytes)) {
    if (f.field === 1) n.addr = read.string(f, 'Network.addr');
    else if (f.field === 2) n.gateway = read.string(f, 'Network.gateway');
    else if (f.field === 3) n.mask = read.string(f, 'Network.mask');
    else if (f.field === 4) n.ifAddr = read.string(f, 'Network.if_addr');
  }
  return n;
}

function decodeRequestCommand(field: number, bytes: Uint8Array): RequestCommand | undefined {
  switch (field) {
    case 2: {
      let version = '';
      for (const f of readFields(bytes)) if (f.field === 1) version = read.string(f, 'Hello.version');
      return { kind: 'hello', version };
    }
    case 10: {
      const run: RequestCommand = { kind: 'run', bin: '', args: [], workDir: '' };
      for (const f of readFields(bytes)) {
        if (f.field === 1) run.bin = read.string(f, 'RunProcess.bin');
        else if (f.field === 2) run.args.push(read.string(f, 'RunProcess.args'));
        else if (f.field === 3) run.workDir = read.string(f, 'RunProcess.work_dir');
        else if (f.field === 4) run.stdout = decodeOutput(read.message(f, 'RunProcess.stdout'));
        else if (f.field === 5) run.stderr = decodeOutput(read.message(f, 'RunProcess.stderr'));
      }
      return run;
    }
    case 11: {
      const kill: RequestCommand = { kind: 'kill', pid: 0, signal: 0 };
      for (const f of readFields(bytes)) {
        if (f.field === 1) kill.pid = read.uint64(f, 'KillProcess.pid');
        else if (f.field === 2) kill.signal = read.int32(f, 'KillProcess.signal');
      }
      return kill;
    }
    case 12:
      return { kind: 'shutdown' };
    case 30: {
      const net: RequestCommand = {
        kind: 'network',
        networks: [],
        hosts: {},
        interface: NetworkInterface.Vpn,
      };
      for (const f of readFields(bytes)) {
        if (f.field === 1) net.networks.push(decodeNetwork(read.message(f, 'CreateNetwork.networks')));
        else if (f.field === 2) {
          const [k, v] = read.stringMapEntry(f, 'CreateNetwork.hosts');
          net.hosts[k] = v;
        } else if (f.field === 3)
          net.interface = read.int32(f, 'CreateNetwork.interface') as NetworkInterface;
      }
      return net;
    }
    default:
      return undefined;
  }
}

export function decodeRequest(bytes: Uint8Array): Request {
  const request: Request = { id: 0 };
  for (const f of readFields(bytes)) {
    if (f.field === 1) request.id = read.uint64(f, 'Request.id');
    else {
      // A oneof member: the last one on the wire wins, as in protobuf; unknown members leave no command.
      const command = decodeRequestCommand(f.field, f.wireType === 2 ? f.data : new Uint8Array(0));
      if (command !== undefined) {
        read.message(f, `Request field ${f.field}`);
        request.command = command;
      }
    }
  }
  return request;
}

function decodeResponseCommand(field: number, bytes: Uint8Array): ResponseCommand | undefined {
  switch (field) {
    case 3: {
      const e: ResponseCommand = { kind: 'error', code: ErrorCode.Internal, message: '', context: {} };
      for (const f of readFields(bytes)) {
        if (f.field === 1) e.code = read.int32(f, 'Error.code') as ErrorCode;
        else if (f.field === 2) e.message = read.string(f, 'Error.message');
        else if (f.field === 3) {
          const [k, v] = read.stringMapEntry(f, 'Error.context');
          e.context[k] = v;
        }
      }
      return e;
    }
    case 4: {
      let version = '';
      for (const f of readFields(bytes)) if (f.field === 1) version = read.string(f, 'Hello.version');
      return { kind: 'hello', version };
    }
    case 10: {
      let pid = 0;
      for (const f of readFields(bytes)) if (f.field === 1) pid = read.uint64(f, 'RunProcess.pid');
      return { kind: 'run', pid };
    }
    case 11:
      return { kind: 'kill' };
    case 12:
      return { kind: 'shutdown' };
    case 20: {
      const s: ResponseCommand = {
        kind: 'status',
        pid: 0,
        running: false,
        returnCode: 0,
        stdout: new Uint8Array(0),
        stderr: new Uint8Array(0),
      };
      for (const f of readFields(bytes)) {
        if (f.field === 1) s.pid = read.uint64(f, 'ProcessStatus.pid');
        else if (f.field === 2) s.running = read.bool(f, 'ProcessStatus.running');
        else if (f.field === 3) s.returnCode = read.int32(f, 'ProcessStatus.return_code');
        else if (f.field === 4) s.stdout = read.bytes(f, 'ProcessStatus.stdout');
        else if (f.field === 5) s.stderr = read.bytes(f, 'ProcessStatus.stderr');
      }
      return s;
    }
    case 21: {
      let status: RuntimeStatus = { kind: 'none' };
      for (const f of readFields(bytes)) {
        if (f.field === 1) {
          const state: RuntimeStatus = { kind: 'state', name: '', value: new Uint8Array(0) };
          for (const x of readFields(read.message(f, 'RuntimeStatus.state'))) {
            if (x.field === 1) state.name = read.string(x, 'State.name');
            else if (x.field === 2) state.value = read.bytes(x, 'State.value');
          }
          status = state;
        } else if (f.field === 2) {
          const counter = { kind: 'counter' as const, name: '', value: 0 };
          for (const x of readFields(read.message(f, 'RuntimeStatus.counter'))) {
            if (x.field === 1) counter.name = read.string(x, 'Counter.name');
            else if (x.field === 2) counter.value = read.double(x, 'Counter.value');
          }
          status = counter;
        }
      }
      return { kind: 'rtStatus', status };
    }
    case 30: {
      const net: ResponseCommand = { kind: 'network' };
      for (const f of readFields(bytes)) {
        const kind = (Object.keys(endpointFields) as EndpointKind[]).find(
          (k) => endpointFields[k] === f.field,
        );
        if (kind) net.endpoint = { kind, address: read.string(f, `CreateNetwork.${kind}`) };
      }
      return net;
    }
    default:
      return undefined;
  }
}

export function decodeResponse(bytes: Uint8Array): Response {
  const response: Response = { event: false, id: 0 };
  for (const f of readFields(bytes)) {
    if (f.field === 1) response.event = read.bool(f, 'Response.event');
    else if (f.field === 2) response.id = read.uint64(f, 'Response.id');
    else {
      const command = decodeResponseCommand(f.field, f.wireType === 2 ? f.data : new Uint8Array(0));
      if (command !== undefined) {
        read.message(f, `Response field ${f.field}`);
        response.command = command;
      }
    }
  }
  return response;
}
