#!/usr/bin/env node
// Reads `kubectl kustomize deploy/kubernetes/overlays/single` on stdin and writes what
// `podman kube play` runs of it (it knows Pods, ConfigMaps and PersistentVolumeClaims, not
// StatefulSets): the ConfigMap with its feeds pointed at FEEDS_URL, one claim in place of the
// StatefulSet's claim template, and the StatefulSet's pod template as the Pod of ordinal 0, its
// containers, probes and security settings untouched. Used by scripts/test-kubernetes.
import { readFileSync } from 'node:fs';
import { parseAllDocuments, stringify } from 'yaml';

const feedsUrl = process.env.FEEDS_URL;
if (!feedsUrl) throw new Error('FEEDS_URL is required');
const objects = parseAllDocuments(readFileSync(0, 'utf8')).map((doc) => doc.toJS());
const set = objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'tessera');
const map = objects.find((o) => o.kind === 'ConfigMap');
if (set === undefined || map === undefined) throw new Error('no tessera StatefulSet or ConfigMap');

const strip = ({ namespace: _, ...metadata }) => metadata;
const feeds = JSON.parse(map.data['feeds.json']).map((feed) => ({ ...feed, url: feedsUrl }));
const claims = set.spec.volumeClaimTemplates.map((claim) => ({
  apiVersion: 'v1',
  kind: 'PersistentVolumeClaim',
  metadata: { name: `${claim.metadata.name}-${set.metadata.name}-0` },
  spec: claim.spec,
}));
// HOST_NETWORK=1: the pod on the host's network. Its containers' ports are left out then: podman
// 4.3 refuses port mappings there (Kubernetes reads them as host ports, to the same effect).
const hostNetwork = process.env.HOST_NETWORK === '1';
const template = set.spec.template.spec;
const pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { ...strip(set.spec.template.metadata), name: `${set.metadata.name}-0` },
  spec: {
    ...template,
    ...(hostNetwork
      ? { hostNetwork, containers: template.containers.map(({ ports: _, ...c }) => c) }
      : {}),
    volumes: [
      ...set.spec.template.spec.volumes,
      ...claims.map((claim, i) => ({
        name: set.spec.volumeClaimTemplates[i].metadata.name,
        persistentVolumeClaim: { claimName: claim.metadata.name },
      })),
    ],
  },
};
const out = [
  { ...map, metadata: strip(map.metadata), data: { 'feeds.json': JSON.stringify(feeds) } },
  ...claims,
  pod,
];
process.stdout.write(out.map((o) => stringify(o)).join('---\n'));
