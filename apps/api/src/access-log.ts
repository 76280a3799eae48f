import type { Logger } from 'pino';

export interface AccessRecord {
  requestId: string;
  method: string;
  path: string;
  status: number;
  ms: number;
}

/**
 * One line per request that went wrong (4xx, 5xx) or was slow; never one per fast success (or
 * 304), so that the hot path does not pay for logging. Server errors at error level.
 */
export function createAccessLog(log: Logger, slowMs: number) {
  return {
    /** Whether a request with this status and duration gets a line (ask before building one). */
    wants: (status: number, ms: number): boolean => status >= 400 || ms >= slowMs,
    write(r: AccessRecord): void {
      const line = {
        reqId: r.requestId,
        method: r.method,
        path: r.path,
        status: r.status,
        ms: r.ms,
      };
      if (r.status >= 500) log.error(line, 'request failed');
      else if (r.status >= 400) log.info(line, 'request refused');
      else log.warn(line, 'slow request');
    },
  };
}
