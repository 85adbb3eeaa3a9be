{{/*
Helpers. Kept to simple pipelines: controller/tests/packaging.rs renders the templates with a
small subset of Helm's template language to compare them with the plain manifests.
*/}}

{{/*
The name of every object. seal (SPEC §10 FIX): `sealed-secrets-controller` unless
fullnameOverride is set, so both CLIs find the controller under their defaults.
*/}}
{{- define "sealed-secrets.fullname" -}}
{{- default "sealed-secrets-controller" .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "sealed-secrets.namespace" -}}
{{- .Release.Namespace -}}
{{- end -}}

{{- define "sealed-secrets.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels: the same as upstream's chart, so an upgrade keeps the Deployment. */}}
{{- define "sealed-secrets.selectorLabels" -}}
app.kubernetes.io/name: sealed-secrets
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "sealed-secrets.labels" -}}
{{ include "sealed-secrets.selectorLabels" . }}
app.kubernetes.io/part-of: sealed-secrets
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ include "sealed-secrets.chart" . }}
{{- end -}}

{{- define "sealed-secrets.serviceAccountName" -}}
{{- default (include "sealed-secrets.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "sealed-secrets.image" -}}
{{- printf "%s/%s:%s" .Values.image.registry .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* "true" when the controller runs with --leader-elect (and needs the Lease grant), else "". */}}
{{- define "sealed-secrets.leaderElect" -}}
{{- if or .Values.leaderElection (gt (int .Values.replicaCount) 1) -}}true{{- end -}}
{{- end -}}

{{/* A map as the controller's `k=v,k=v` flag syntax. */}}
{{- define "sealed-secrets.keyValues" -}}
{{- range $k, $v := . }}{{ $k }}={{ $v }},{{ end -}}
{{- end -}}
