import { z } from 'zod';

/** One server: `nats://` or `tls://` (TLS required), a host, an optional port; nothing else. */
function isServerUrl(text: string): boolean {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  return (
    (url.protocol === 'nats:' || url.protocol === 'tls:') &&
    url.hostname !== '' &&
    (url.pathname === '' || url.pathname === '/') &&
    url.search === '' &&
    url.hash === ''
  );
}

/**
 * `NATS_URL`: one or more servers, comma-separated, each `nats://host:port` or `tls://host:port`.
 * A bare word is refused (`garbage` would otherwise be a host name that no connection ever
 * reaches, silently). Absent, the node runs alone and nothing of NATS runs.
 */
export const NatsServersSchema = z
  .string()
  .transform((text) => text.split(',').map((s) => s.trim()))
  .refine((servers) => servers.length > 0 && servers.every(isServerUrl), {
    message:
      'expected comma-separated nats:// or tls:// URLs such as nats://10.0.0.1:4222,nats://10.0.0.2:4222',
  });
