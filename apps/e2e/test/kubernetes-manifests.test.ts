import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '@tessera/testkit';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

/**
 * deploy/kubernetes rendered as `kubectl kustomize` renders it (no cluster needed), every object
 * validated against the Kubernetes API schemas by kubernetes-models, and the rules the pod must
 * keep (docs/kubernetes.md) checked over every workload of both overlays.
 */
const OVERLAYS = ['single', 'cluster'] as const;

interface Validatable {
  validate(): void;
}
/** Every kind the manifests may hold, with its schema: a kind not listed here fails the test. */
const MODELS: Record<string, new (data: never) => Validatable> = {
  'apps/v1/StatefulSet': StatefulSet,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'v1/ConfigMap': ConfigMap,
  'v1/Namespace': Namespace,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
};

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are checked field by field below.
type Manifest = any;

function render(overlay: string): Manifest[] {
  const yaml = execFileSync(
    'kubectl',
    ['kustomize', join(REPO_ROOT, 'deploy/kubernetes/overlays', overlay)],
    { encoding: 'utf8' },
  );
  return parseAllDocuments(yaml).map((doc) => doc.toJS());
}

const named = (objects: Manifest[], kind: string, name: string): Manifest => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (found === undefined) throw new Error(`no ${kind} ${name}`);
  return found;
};

const matches = (selector: Record<string, string>, labels: Record<string, string>): boolean =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

describe.each(OVERLAYS)('the %s overlay', (overlay) => {
  const objects = render(overlay);
  const workloads = objects.filter((o) => o.kind === 'StatefulSet');

  it('renders only kinds it knows, each valid against its API schema', () => {
    expect(objects.length).toBeGreaterThan(5);
    for (const object of objects) {
      const Model = MODELS[`${object.apiVersion}/${object.kind}`];
      expect(Model, `${object.apiVersion} ${object.kind}`).toBeDefined();
      expect(() => new Model!(object as never).validate(), object.metadata.name).not.toThrow();
    }
  });

  it('runs every container unprivileged, read-only, with memory bounds', () => {
    for (const workload of workloads) {
      const pod = workload.spec.template.spec;
      expect(pod.securityContext.runAsNonRoot, workload.metadata.name).toBe(true);
      expect(pod.securityContext.seccompProfile.type).toBe('RuntimeDefault');
      expect(pod.automountServiceAccountToken).toBe(false);
      for (const container of pod.containers) {
        const where = `${workload.metadata.name}/${container.name}`;
        expect(container.securityContext, where).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        });
        expect(container.resources.requests.memory, where).toBeDefined();
        expect(container.resources.limits.memory, where).toBeDefined();
      }
      // A claim is mounted by one pod at a time, whatever the scheduler does.
      for (const claim of workload.spec.volumeClaimTemplates) {
        expect(claim.spec.accessModes, where(workload)).toEqual(['ReadWriteOncePod']);
      }
    }
  });

  it('puts the ingestor and the API in one process namespace, on one store', () => {
    const tessera = named(objects, 'StatefulSet', 'tessera');
    const pod = tessera.spec.template.spec;
    expect(pod.shareProcessNamespace).toBe(true);
    expect(pod.containers.map((c: Manifest) => c.name).sort()).toEqual(['api', 'ingestor']);
    const dataDirs = new Set<string>();
    for (const container of pod.containers) {
      const dataDir = container.env.find((e: Manifest) => e.name === 'DATA_DIR').value;
      const mount = container.volumeMounts.find((m: Manifest) => m.mountPath === dataDir);
      expect(mount?.name, container.name).toBe('data');
      dataDirs.add(dataDir);
    }
    expect(dataDirs.size).toBe(1);
    expect(tessera.spec.updateStrategy.type).toBe('RollingUpdate');
  });

  it('probes the API on /health and /ready, routes only to its public port, scrapes its admin port', () => {
    const tessera = named(objects, 'StatefulSet', 'tessera');
    const pod = tessera.spec.template.spec;
    const api = pod.containers.find((c: Manifest) => c.name === 'api');
    const port = api.ports.find((p: Manifest) => p.name === 'http').containerPort;
    expect(api.env.find((e: Manifest) => e.name === 'PORT').value).toBe(String(port));
    expect(api.startupProbe.httpGet.path).toBe('/health');
    expect(api.livenessProbe.httpGet.path).toBe('/health');
    expect(api.readinessProbe.httpGet.path).toBe('/ready');
    const labels = tessera.spec.template.metadata.labels;
    for (const service of objects.filter(
      (o) =>
        o.kind === 'Service' &&
        o.metadata.name.startsWith('tessera') &&
        !o.metadata.name.includes('nats'),
    )) {
      expect(matches(service.spec.selector, labels), service.metadata.name).toBe(true);
      expect(service.spec.ports.map((p: Manifest) => p.targetPort)).toEqual(['http']);
    }
    expect(
      matches(named(objects, 'PodDisruptionBudget', 'tessera').spec.selector.matchLabels, labels),
    ).toBe(true);
    const policy = named(objects, 'NetworkPolicy', 'tessera');
    expect(matches(policy.spec.podSelector.matchLabels, labels)).toBe(true);
    // The admin port: let in for Prometheus and operators, scraped there, never a Service's.
    const admin = api.ports.find((p: Manifest) => p.name === 'admin').containerPort;
    expect(api.env.find((e: Manifest) => e.name === 'ADMIN_PORT').value).toBe(String(admin));
    expect(tessera.spec.template.metadata.annotations['prometheus.io/port']).toBe(String(admin));
    expect(
      policy.spec.ingress.flatMap((rule: Manifest) => rule.ports.map((p: Manifest) => p.port)),
    ).toEqual([port, admin]);
  });

  it('reads FEEDS from the ConfigMap it mounts', () => {
    const tessera = named(objects, 'StatefulSet', 'tessera');
    const pod = tessera.spec.template.spec;
    const ingestor = pod.containers.find((c: Manifest) => c.name === 'ingestor');
    const feeds = ingestor.env.find((e: Manifest) => e.name === 'FEEDS').value as string;
    const mount = ingestor.volumeMounts.find((m: Manifest) => feeds.startsWith(`@${m.mountPath}/`));
    const volume = pod.volumes.find((v: Manifest) => v.name === mount.name);
    const map = named(objects, 'ConfigMap', volume.configMap.name);
    const file = feeds.slice(mount.mountPath.length + 2);
    const entries = JSON.parse(map.data[file]) as Array<{ id: string; url: string }>;
    expect(entries.length).toBeGreaterThan(0);
    for (const entry of entries) expect(new URL(entry.url).protocol).toMatch(/^https?:$/);
  });
});

describe('the cluster overlay', () => {
  const objects = render('cluster');

  it('joins every Tessera node to every NATS server the overlay runs', () => {
    const tessera = named(objects, 'StatefulSet', 'tessera');
    const nats = named(objects, 'StatefulSet', 'tessera-nats');
    expect(tessera.spec.replicas).toBeGreaterThanOrEqual(3);
    expect(nats.spec.replicas).toBe(3);
    const ingestor = tessera.spec.template.spec.containers.find(
      (c: Manifest) => c.name === 'ingestor',
    );
    const url = ingestor.env.find((e: Manifest) => e.name === 'NATS_URL').value as string;
    const servers = Array.from(
      { length: nats.spec.replicas },
      (_, i) => `nats://${nats.metadata.name}-${i}.${nats.spec.serviceName}:4222`,
    );
    expect(url.split(',')).toEqual(servers);
    const nodeId = ingestor.env.find((e: Manifest) => e.name === 'NODE_ID');
    expect(nodeId.valueFrom.fieldRef.fieldPath).toBe('metadata.name');
    // The nodes may reach NATS through their network policy.
    const policy = named(objects, 'NetworkPolicy', 'tessera');
    const natsLabels = nats.spec.template.metadata.labels;
    const toNats = policy.spec.egress.filter((rule: Manifest) =>
      rule.to?.some(
        (peer: Manifest) => peer.podSelector && matches(peer.podSelector.matchLabels, natsLabels),
      ),
    );
    expect(toNats.flatMap((rule: Manifest) => rule.ports.map((p: Manifest) => p.port))).toEqual([
      4222,
    ]);
  });
});

function where(workload: Manifest): string {
  return workload.metadata.name;
}
