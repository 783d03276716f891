{{/* Names and labels. */}}
{{- define "tickwatch.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "tickwatch.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector of one stage: (dict "root" $ "component" "api"). */}}
{{- define "tickwatch.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "tickwatch.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "tickwatch.secretName" -}}
{{ .Values.secrets.existingSecret | default (include "tickwatch.fullname" .) }}
{{- end -}}

{{/*
The pod template of a stage: (dict "root" $ "component" NAME "args" LIST "stage" VALUES
"port" HTTP-PORT-OR-0 "probePort" NAME "claims" LIST-OF (dict "name" "claim" "mountPath")).
Settings come from the Secret (tickwatch.yaml), the
other files from the ConfigMap mounted over the image's config/ folder (the working directory
mirrors the repository: config/, schemas/, api/dashboard/, wasm/).
*/}}
{{- define "tickwatch.podTemplate" -}}
{{- $root := .root -}}
{{- $d := $root.Values.podDefaults -}}
{{- $stage := .stage | default dict -}}
metadata:
  labels:
    {{- include "tickwatch.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
  annotations:
    checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
    checksum/settings: {{ include (print $root.Template.BasePath "/secret.yaml") $root | sha256sum }}
    {{- with $d.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  {{- with $root.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml $d.securityContext | nindent 4 }}
  terminationGracePeriodSeconds: 60
  containers:
    - name: {{ .component }}
      image: {{ include "tickwatch.image" $root }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      args:
        {{- toYaml (concat (list "--log-format" $d.logFormat) .args ($stage.extraArgs | default list)) | nindent 8 }}
      env:
        - name: TICKWATCH_CONFIG
          value: /etc/tickwatch/tickwatch.yaml
        - name: RUST_LOG
          value: {{ $d.logLevel | quote }}
        - name: TICKWATCH_INSTANCE_ID
          valueFrom:
            fieldRef: {fieldPath: metadata.name}
      envFrom:
        - secretRef:
            name: {{ include "tickwatch.secretName" $root }}
      ports:
        - name: metrics
          containerPort: {{ $root.Values.metrics.port }}
        {{- if .port }}
        - name: http
          containerPort: {{ .port }}
        {{- end }}
      livenessProbe:
        httpGet: {path: /healthz, port: {{ .probePort | default "metrics" }}}
        initialDelaySeconds: 10
        periodSeconds: 10
        failureThreshold: 6
      readinessProbe:
        httpGet: {path: /readyz, port: {{ .probePort | default "metrics" }}}
        periodSeconds: 5
        failureThreshold: 3
      resources:
        {{- toYaml ($stage.resources | default $d.resources) | nindent 8 }}
      securityContext:
        {{- toYaml $d.containerSecurityContext | nindent 8 }}
      volumeMounts:
        - {name: config, mountPath: /opt/tickwatch/config, readOnly: true}
        - {name: settings, mountPath: /etc/tickwatch, readOnly: true}
        - {name: tmp, mountPath: /tmp}
        {{- range .claims }}
        - {name: {{ .name }}, mountPath: {{ .mountPath }}}
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "tickwatch.fullname" $root }}-config
    - name: settings
      secret:
        secretName: {{ include "tickwatch.secretName" $root }}
        items:
          - {key: tickwatch.yaml, path: tickwatch.yaml}
    - name: tmp
      emptyDir: {}
    {{- range .claims }}
    - name: {{ .name }}
      persistentVolumeClaim:
        claimName: {{ .claim }}
    {{- end }}
  {{- with $d.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $d.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $d.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/* A Deployment and its metrics Service: same arguments as tickwatch.podTemplate plus
"replicas" and "singleton". */}}
{{- define "tickwatch.deployment" -}}
{{- $root := .root -}}
{{- $stage := .stage | default dict -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "tickwatch.fullname" $root }}-{{ .component }}
  labels:
    {{- include "tickwatch.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
spec:
  {{- if not (and $stage.autoscaling $stage.autoscaling.enabled) }}
  replicas: {{ if .singleton }}1{{ else }}{{ .replicas | default 1 }}{{ end }}
  {{- end }}
  {{- if .singleton }}
  strategy:
    type: Recreate
  {{- end }}
  selector:
    matchLabels:
      {{- include "tickwatch.selector" . | nindent 6 }}
  template:
    {{- include "tickwatch.podTemplate" . | nindent 4 }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ include "tickwatch.fullname" $root }}-{{ .component }}-metrics
  labels:
    {{- include "tickwatch.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
    tickwatch.io/metrics: "true"
spec:
  clusterIP: None
  selector:
    {{- include "tickwatch.selector" . | nindent 4 }}
  ports:
    - name: metrics
      port: {{ $root.Values.metrics.port }}
      targetPort: metrics
{{- end -}}
