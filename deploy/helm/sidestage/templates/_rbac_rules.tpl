{{/*
GENERATED from sandboxes/cluster_permissions.py by `manage.py rbac_rules --write`.
Do not edit: change RECONCILER_PERMISSIONS (or the catalog's DISCOVERY_PERMISSIONS)
and regenerate. A test checks they agree.
*/}}
{{- define "sidestage.rbacRules" -}}
- apiGroups: [""]
  resources: ["services"]
  verbs: ["create", "delete", "get", "list", "patch"]
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["get"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["create", "delete", "get", "list", "patch"]
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["httproutes"]
  verbs: ["create", "delete", "get", "list", "patch"]
- apiGroups: ["networking.istio.io"]
  resources: ["virtualservices"]
  verbs: ["create", "delete", "get", "list", "patch"]
- apiGroups: ["policy.linkerd.io"]
  resources: ["httproutes"]
  verbs: ["create", "delete", "get", "list", "patch"]
{{- end -}}
{{- define "sidestage.rbacNamespacedRules" -}}
- apiGroups: [""]
  resources: ["services"]
  verbs: ["create", "delete", "get", "list", "patch"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["create", "delete", "get", "list", "patch"]
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["httproutes"]
  verbs: ["create", "delete", "get", "list", "patch"]
- apiGroups: ["networking.istio.io"]
  resources: ["virtualservices"]
  verbs: ["create", "delete", "get", "list", "patch"]
- apiGroups: ["policy.linkerd.io"]
  resources: ["httproutes"]
  verbs: ["create", "delete", "get", "list", "patch"]
{{- end -}}
