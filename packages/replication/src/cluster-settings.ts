import { z } from 'zod';

const SERVER = /^(nats:\/\/)?[A-Za-z0-9.-]+(:\d{1,5})?$|^(nats:\/\/)?\[[0-9A-Fa-f:]+\](:\d{1,5})?$/;

/**
 * `NATS_URL`: one or more servers, comma-separated (`nats://host:port` or `host:port`). Absent,
 * the node runs alone and nothing of NATS runs.
 */
export const NatsServersSchema = z
  .string()
  .transform((text) => text.split(',').map((s) => s.trim()))
  .refine((servers) => servers.length > 0 && servers.every((s) => SERVER.test(s)), {
    message:
      'expected comma-separated NATS servers such as nats://10.0.0.1:4222,nats://10.0.0.2:4222',
  });
