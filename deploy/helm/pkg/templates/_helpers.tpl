{{- define "pkg.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "pkg.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "pkg.labels" -}}
{{ include "pkg.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "pkg.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "pkg.secretName" -}}
{{- if .Values.existingSecret -}}
{{ .Values.existingSecret }}
{{- else -}}
{{ include "pkg.fullname" . }}
{{- end -}}
{{- end -}}

{{- define "pkg.restricted" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end -}}

{{/* The least number of replicas that run: the autoscaler's floor, or replicaCount. */}}
{{- define "pkg.minReplicas" -}}
{{- if .Values.autoscaling.enabled -}}
{{ .Values.autoscaling.minReplicas }}
{{- else -}}
{{ .Values.replicaCount }}
{{- end -}}
{{- end -}}

{{- define "pkg.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{ .Values.serviceAccount.name | default (include "pkg.fullname" .) }}
{{- else -}}
{{ .Values.serviceAccount.name | default "default" }}
{{- end -}}
{{- end -}}

{{/*
The seed policy with `env` set to .Values.env: promoted in any other env, the replicas would
never find an active snapshot and /health/ready would answer 503 forever. A policy that names
another env is refused rather than silently rewritten.
*/}}
{{- define "pkg.seedPolicy" -}}
{{- $doc := fromYaml .Values.seed.policy -}}
{{- if hasKey $doc "Error" -}}
{{- fail (printf "seed.policy is not a YAML mapping: %s" (get $doc "Error")) -}}
{{- end -}}
{{- if not (hasKey $doc "env") -}}
{{- toYaml (set $doc "env" .Values.env) -}}
{{- else if eq (toString (get $doc "env")) (toString .Values.env) -}}
{{- .Values.seed.policy -}}
{{- else -}}
{{- fail (printf "seed.policy says env: %v but env is %v: the replicas serve %v, so they would never find the seed active and /health/ready would answer 503 forever. Leave env out of seed.policy (the chart sets it from env) or make the two agree" (get $doc "env") .Values.env .Values.env) -}}
{{- end -}}
{{- end -}}
