//! The resource types the double serves.

/// A resource type the double serves: its URL coordinates and the behaviour the API server gives it.
///
/// Built-in types follow the built-in registry (no `metadata.generation`, deletion answers with a
/// `Status`, unconditional updates allowed); custom types follow the CRD registry (generation starts
/// at 1 and moves with every change outside `metadata` and the status subresource, deletion answers
/// with the object, updates must carry `metadata.resourceVersion`).
///
/// ```
/// use kube_double::ResourceKind;
/// let certs = ResourceKind::custom("example.com", "v1", "Certificate", "certificates")
///     .with_status_subresource();
/// assert_eq!(certs.api_version(), "example.com/v1");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceKind {
    /// API group, `""` for the core group.
    pub group: String,
    /// API version, e.g. `v1`.
    pub version: String,
    /// `kind`, e.g. `Secret`.
    pub kind: String,
    /// URL plural, e.g. `secrets`.
    pub plural: String,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// Whether a `/status` subresource exists; then the main resource ignores `status` changes
    /// and `/status` writes take only `status`.
    pub has_status: bool,
    /// Whether the CRD registry's rules apply (see the type documentation).
    pub custom: bool,
    /// Whether a PUT to a missing object creates it (Leases, Events and Services do upstream).
    pub create_on_update: bool,
    /// Field-selector labels supported besides `metadata.name` and `metadata.namespace`
    /// (dotted paths into the object). Others are refused with 400, as the API server does.
    pub field_labels: Vec<String>,
}

impl ResourceKind {
    fn new(group: &str, version: &str, kind: &str, plural: &str, custom: bool) -> Self {
        ResourceKind {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: kind.to_owned(),
            plural: plural.to_owned(),
            namespaced: true,
            has_status: false,
            custom,
            create_on_update: false,
            field_labels: Vec::new(),
        }
    }

    /// A namespaced built-in type without a status subresource.
    pub fn builtin(group: &str, version: &str, kind: &str, plural: &str) -> Self {
        Self::new(group, version, kind, plural, false)
    }

    /// A namespaced custom resource (CRD) without a status subresource.
    pub fn custom(group: &str, version: &str, kind: &str, plural: &str) -> Self {
        Self::new(group, version, kind, plural, true)
    }

    /// Makes the type cluster-scoped.
    #[must_use]
    pub fn cluster_scoped(mut self) -> Self {
        self.namespaced = false;
        self
    }

    /// Gives the type a `/status` subresource.
    #[must_use]
    pub fn with_status_subresource(mut self) -> Self {
        self.has_status = true;
        self
    }

    /// Lets a PUT to a missing object create it.
    #[must_use]
    pub fn create_on_update(mut self) -> Self {
        self.create_on_update = true;
        self
    }

    /// Supports a field-selector label (a dotted path into the object).
    #[must_use]
    pub fn field_label(mut self, path: &str) -> Self {
        self.field_labels.push(path.to_owned());
        self
    }

    /// `v1` or `group/version`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The types registered in every double.
    pub(crate) fn builtins() -> Vec<ResourceKind> {
        let event_fields = [
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ];
        let mut core_events = Self::builtin("", "v1", "Event", "events").create_on_update();
        for f in event_fields {
            core_events = core_events.field_label(f);
        }
        vec![
            Self::builtin("", "v1", "Namespace", "namespaces")
                .cluster_scoped()
                .with_status_subresource()
                .field_label("status.phase"),
            Self::builtin("", "v1", "Secret", "secrets").field_label("type"),
            Self::builtin("", "v1", "ConfigMap", "configmaps"),
            Self::builtin("", "v1", "Service", "services")
                .with_status_subresource()
                .create_on_update(),
            core_events,
            Self::builtin("events.k8s.io", "v1", "Event", "events")
                .create_on_update()
                .field_label("regarding.kind")
                .field_label("regarding.namespace")
                .field_label("regarding.name")
                .field_label("reason")
                .field_label("reportingController")
                .field_label("type"),
            Self::builtin("coordination.k8s.io", "v1", "Lease", "leases").create_on_update(),
            Self::custom("bitnami.com", "v1alpha1", "SealedSecret", "sealedsecrets")
                .with_status_subresource(),
        ]
    }
}
