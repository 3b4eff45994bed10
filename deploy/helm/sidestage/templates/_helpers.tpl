{{- define "sidestage.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "sidestage.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "sidestage.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "sidestage.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "sidestage.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Not app.kubernetes.io/managed-by=sidestage: that label marks what the reconciler owns. */}}
{{- define "sidestage.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "sidestage.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sidestage
{{- end -}}

{{- define "sidestage.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sidestage.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The environment every Sidestage container gets. */}}
{{- define "sidestage.env" -}}
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.urlSecret.name }}
      key: {{ .Values.database.urlSecret.key }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.urlSecret.name }}
      key: {{ .Values.redis.urlSecret.key }}
- name: SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secretKey.secret.name }}
      key: {{ .Values.secretKey.secret.key }}
- name: DEBUG
  value: "false"
- name: ALLOWED_HOSTS
  value: {{ join "," (concat (list "$(POD_IP)") .Values.config.allowedHosts) | quote }}
- name: CSRF_TRUSTED_ORIGINS
  value: {{ join "," .Values.config.csrfTrustedOrigins | quote }}
- name: SECURE_PROXY_SSL_HEADER
  value: {{ .Values.config.secureProxySslHeader | quote }}
- name: LOG_LEVEL
  value: {{ .Values.config.logLevel | quote }}
- name: SIDESTAGE_VAR_DIR
  value: /var/lib/sidestage
- name: SIDESTAGE_CLUSTER
  value: {{ .Values.cluster.mode | quote }}
{{- if eq .Values.rbac.scope "namespaced" }}
- name: SIDESTAGE_NAMESPACES
  value: {{ join "," .Values.rbac.namespaces | quote }}
{{- end }}
- name: PROMETHEUS_MULTIPROC_DIR
  value: /tmp/prometheus
{{- if .Values.metrics.enabled }}
- name: SIDESTAGE_METRICS_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ .Values.metrics.tokenSecret.name }}
      key: {{ .Values.metrics.tokenSecret.key }}
{{- end }}
{{- with .Values.config.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Writable scratch space on a read-only root filesystem. */}}
{{- define "sidestage.volumes" -}}
- name: tmp
  emptyDir: {}
- name: var
  emptyDir: {}
{{- end -}}

{{- define "sidestage.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: var
  mountPath: /var/lib/sidestage
{{- end -}}

{{/* Pod-level settings shared by every Sidestage pod. Only the workers talk to the
Kubernetes API (the reconciler and the orphan sweep run there), so only they get the
ServiceAccount's token: web and beat run under the same account without one. */}}
{{- define "sidestage.podSpec" -}}
{{- $root := .root -}}
serviceAccountName: {{ include "sidestage.serviceAccountName" $root }}
automountServiceAccountToken: {{ and .apiAccess (ne $root.Values.cluster.mode "none") }}
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  {{- include "sidestage.volumes" $root | nindent 2 }}
{{- end -}}

{{- define "sidestage.podMeta" -}}
labels:
  {{- include "sidestage.labels" .root | nindent 2 }}
  app.kubernetes.io/component: {{ .component }}
  {{- with .root.Values.podLabels }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- with .root.Values.podAnnotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "sidestage.validate" -}}
{{- if and (eq .Values.rbac.scope "namespaced") (empty .Values.rbac.namespaces) -}}
{{- fail "rbac.scope=namespaced needs rbac.namespaces: the namespaces Sidestage may fork into" -}}
{{- end -}}
{{- end -}}
