//! Logsource routing: which Windows event log channels and event ids a rule's `logsource` stands
//! for (Sysmon for the generic categories, plus Security 4688 for `process_creation`), with
//! Sigma's field names mapped to the channel's own where they differ; and `product: mamori`,
//! mamori's normalised events (any source), routed as [`MAMORI_CHANNEL`] with the category
//! narrowing the `action`.

/// How Sigma's field names are read from an event of this route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FieldMap {
    /// As named (Sysmon, and rules written for a channel's own fields).
    Native,
    /// Security 4688 read as `process_creation`: `Image` is `NewProcessName` …
    Security4688,
}

/// Number of [`FieldMap`]s (the engine keeps one field cache per map).
pub(crate) const FIELD_MAPS: usize = 2;

impl FieldMap {
    pub(crate) fn index(self) -> usize {
        match self {
            FieldMap::Native => 0,
            FieldMap::Security4688 => 1,
        }
    }

    /// The event's name for a Sigma field name.
    pub fn map(self, field: &str) -> &str {
        match self {
            FieldMap::Native => field,
            FieldMap::Security4688 => match field {
                "Image" => "NewProcessName",
                "ParentImage" => "ParentProcessName",
                "ProcessId" => "NewProcessId",
                "ParentProcessId" => "ProcessId",
                "LogonId" => "SubjectLogonId",
                "User" => "SubjectUserName",
                other => other,
            },
        }
    }
}

/// Where a rule applies: a channel (lower-case), optionally only some event ids, and extra
/// field conditions (Sysmon 12 is both `registry_add` and `registry_delete`: `EventType` tells).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `None`: every channel (a rule with `product: windows` and nothing else).
    pub channel: Option<String>,
    /// Empty: every event id of the channel.
    pub event_ids: Vec<u32>,
    pub field_map: FieldMap,
    /// `(field, values)`: the event's field must equal one of the values (case-insensitive).
    pub require: Option<(&'static str, &'static [&'static str])>,
}

const SYSMON: &str = "Microsoft-Windows-Sysmon/Operational";

fn sysmon(ids: &[u32]) -> Vec<Route> {
    vec![Route {
        channel: Some(SYSMON.to_lowercase()),
        event_ids: ids.to_vec(),
        field_map: FieldMap::Native,
        require: None,
    }]
}

fn sysmon_where(id: u32, field: &'static str, values: &'static [&'static str]) -> Vec<Route> {
    vec![Route {
        channel: Some(SYSMON.to_lowercase()),
        event_ids: vec![id],
        field_map: FieldMap::Native,
        require: Some((field, values)),
    }]
}

fn channels(names: &[&str], ids: &[u32]) -> Vec<Route> {
    names
        .iter()
        .map(|c| Route {
            channel: Some(c.to_lowercase()),
            event_ids: ids.to_vec(),
            field_map: FieldMap::Native,
            require: None,
        })
        .collect()
}

const POWERSHELL: &[&str] = &[
    "Microsoft-Windows-PowerShell/Operational",
    "PowerShellCore/Operational",
];

/// The channel(s) of a `service` (pySigma's Windows mapping, plus the services SigmaHQ's rules
/// use since).
fn service(name: &str) -> Option<&'static [&'static str]> {
    Some(match name {
        "security" => &["Security"],
        "system" => &["System"],
        "application" => &["Application"],
        "sysmon" => &[SYSMON],
        "powershell" => POWERSHELL,
        "powershell-classic" => &["Windows PowerShell"],
        "taskscheduler" => &["Microsoft-Windows-TaskScheduler/Operational"],
        "wmi" => &["Microsoft-Windows-WMI-Activity/Operational"],
        "dns-server" => &["DNS Server"],
        "dns-server-audit" => &["Microsoft-Windows-DNS-Server/Audit"],
        "dns-server-analytic" => &["Microsoft-Windows-DNS-Server/Analytical"],
        "driver-framework" => &["Microsoft-Windows-DriverFrameworks-UserMode/Operational"],
        "ntlm" => &["Microsoft-Windows-NTLM/Operational"],
        "dhcp" => &["Microsoft-Windows-DHCP-Server/Operational"],
        "msexchange-management" => &["MSExchange Management"],
        "applocker" => &[
            "Microsoft-Windows-AppLocker/EXE and DLL",
            "Microsoft-Windows-AppLocker/MSI and Script",
            "Microsoft-Windows-AppLocker/Packaged app-Deployment",
            "Microsoft-Windows-AppLocker/Packaged app-Execution",
        ],
        "printservice-admin" => &["Microsoft-Windows-PrintService/Admin"],
        "printservice-operational" => &["Microsoft-Windows-PrintService/Operational"],
        "codeintegrity-operational" => &["Microsoft-Windows-CodeIntegrity/Operational"],
        "smbclient-security" => &["Microsoft-Windows-SmbClient/Security"],
        "smbclient-connectivity" => &["Microsoft-Windows-SmbClient/Connectivity"],
        "smbserver-connectivity" => &["Microsoft-Windows-SMBServer/Connectivity"],
        "firewall-as" => &["Microsoft-Windows-Windows Firewall With Advanced Security/Firewall"],
        "bits-client" => &["Microsoft-Windows-Bits-Client/Operational"],
        "windefend" => &["Microsoft-Windows-Windows Defender/Operational"],
        "terminalservices-localsessionmanager" => {
            &["Microsoft-Windows-TerminalServices-LocalSessionManager/Operational"]
        }
        "microsoft-servicebus-client" => &["Microsoft-ServiceBus-Client"],
        "ldap" | "ldap_debug" => &["Microsoft-Windows-LDAP-Client/Debug"],
        "security-mitigations" => &[
            "Microsoft-Windows-Security-Mitigations/Kernel Mode",
            "Microsoft-Windows-Security-Mitigations/User Mode",
        ],
        "diagnosis-scripted" => &["Microsoft-Windows-Diagnosis-Scripted/Operational"],
        "shell-core" => &["Microsoft-Windows-Shell-Core/Operational"],
        "openssh" => &["OpenSSH/Operational"],
        "bitlocker" => &["Microsoft-Windows-BitLocker/BitLocker Management"],
        "vhdmp" => &["Microsoft-Windows-VHDMP-Operational"],
        "appxdeployment-server" => &["Microsoft-Windows-AppXDeploymentServer/Operational"],
        "appxpackaging-om" => &["Microsoft-Windows-AppxPackaging/Operational"],
        "appmodel-runtime" => &["Microsoft-Windows-AppModel-Runtime/Admin"],
        "lsa-server" => &["Microsoft-Windows-LSA/Operational"],
        "dns-client" => &["Microsoft-Windows-DNS Client Events/Operational"],
        "capi2" => &["Microsoft-Windows-CAPI2/Operational"],
        "certificateservicesclient-lifecycle-system" => {
            &["Microsoft-Windows-CertificateServicesClient-Lifecycle-System/Operational"]
        }
        "iis-configuration" => &["Microsoft-IIS-Configuration/Operational"],
        "kernel-shimengine" => &[
            "Microsoft-Windows-Kernel-ShimEngine/Operational",
            "Microsoft-Windows-Kernel-ShimEngine/Diagnostic",
        ],
        "kernel-event-tracing" => &["Microsoft-Windows-Kernel-EventTracing/Admin"],
        "hyper-v-worker" => &["Microsoft-Windows-Hyper-V-Worker-Admin"],
        "sense" => &["Microsoft-Windows-SENSE/Operational"],
        "ntfs" => &["Microsoft-Windows-Ntfs/Operational"],
        _ => return None,
    })
}

/// The routes of a `category` (Sysmon event ids; the PowerShell script and module logs; and
/// Security 4688 for process creation).
fn category(name: &str) -> Option<Vec<Route>> {
    Some(match name {
        "process_creation" => {
            let mut r = sysmon(&[1]);
            r.push(Route {
                channel: Some("security".into()),
                event_ids: vec![4688],
                field_map: FieldMap::Security4688,
                require: None,
            });
            r
        }
        "file_change" => sysmon(&[2]),
        "network_connection" => sysmon(&[3]),
        "sysmon_status" => sysmon(&[4, 16]),
        "process_termination" => sysmon(&[5]),
        "driver_load" => sysmon(&[6]),
        "image_load" => sysmon(&[7]),
        "create_remote_thread" => sysmon(&[8]),
        "raw_access_thread" => sysmon(&[9]),
        "process_access" => sysmon(&[10]),
        "file_event" => sysmon(&[11]),
        "registry_event" => sysmon(&[12, 13, 14]),
        "registry_add" => sysmon_where(12, "EventType", &["CreateKey"]),
        "registry_delete" => sysmon_where(12, "EventType", &["DeleteKey", "DeleteValue"]),
        "registry_set" => sysmon_where(13, "EventType", &["SetValue"]),
        "registry_rename" => sysmon_where(14, "EventType", &["RenameKey"]),
        "create_stream_hash" => sysmon(&[15]),
        "pipe_created" => sysmon(&[17, 18]),
        "wmi_event" => sysmon(&[19, 20, 21]),
        "dns_query" => sysmon(&[22]),
        "file_delete" => sysmon(&[23, 26]),
        "clipboard_capture" => sysmon(&[24]),
        "process_tampering" => sysmon(&[25]),
        "file_block_executable" => sysmon(&[27]),
        "file_block_shredding" => sysmon(&[28]),
        "file_executable_detected" => sysmon(&[29]),
        "sysmon_error" => sysmon(&[255]),
        "ps_script" => channels(POWERSHELL, &[4104]),
        "ps_module" => channels(POWERSHELL, &[4103]),
        "ps_classic_start" => channels(&["Windows PowerShell"], &[400]),
        "ps_classic_provider_start" => channels(&["Windows PowerShell"], &[600]),
        "ps_classic_script" => channels(&["Windows PowerShell"], &[800]),
        _ => return None,
    })
}

/// The channel normalised events are routed as (rules with `product: mamori`).
pub const MAMORI_CHANNEL: &str = "mamori";

/// Actions of electronic medical record access.
const EHR_ACCESS: &[&str] = &[
    "record_viewed",
    "record_changed",
    "record_printed",
    "record_exported",
];
const AUTHENTICATION: &[&str] = &[
    "logon",
    "logon_failed",
    "logoff",
    "explicit_credential_logon",
    "account_locked_out",
    "account_unlocked",
];
const ACCOUNT_MANAGEMENT: &[&str] = &[
    "account_created",
    "account_enabled",
    "password_reset",
    "account_disabled",
    "account_deleted",
    "group_member_added",
    "account_changed",
    "special_privileges_assigned",
];
const LOG_MANAGEMENT: &[&str] = &["audit_log_cleared", "event_log_cleared"];
const REMOVABLE_MEDIA: &[&str] = &["media_written", "device_connected"];

/// The routes of `product: mamori`: fields are the normalised event's (`action`, `actor`,
/// `object`, `outcome`, `host`, `source`, `severity`, `message`, `hour`, `weekday`, and every
/// field the decoder kept by its name). The category narrows the action.
fn mamori(
    category_name: Option<&str>,
    service_name: Option<&str>,
) -> Result<Vec<Route>, RouteError> {
    if let Some(s) = service_name {
        return Err(RouteError::Unknown(format!("service {s} (product mamori)")));
    }
    let require = match category_name {
        None => None,
        Some(c) => Some((
            "action",
            match c {
                "ehr_access" => EHR_ACCESS,
                "authentication" => AUTHENTICATION,
                "account_management" => ACCOUNT_MANAGEMENT,
                "log_management" => LOG_MANAGEMENT,
                "removable_media" => REMOVABLE_MEDIA,
                other => {
                    return Err(RouteError::Unknown(format!(
                        "category {other} (product mamori)"
                    )));
                }
            },
        )),
    };
    Ok(vec![Route {
        channel: Some(MAMORI_CHANNEL.to_string()),
        event_ids: Vec::new(),
        field_map: FieldMap::Native,
        require,
    }])
}

/// Why a logsource cannot be routed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// Neither `product: windows` nor `product: mamori`.
    NotWindows(String),
    /// A category or service with no Windows event log channel we know.
    Unknown(String),
}

/// The routes of a Windows logsource. `service` wins over `category` when both are given
/// (e.g. `category: process_creation, service: sysmon` is Sysmon's process creation).
pub fn routes(
    product: Option<&str>,
    category_name: Option<&str>,
    service_name: Option<&str>,
) -> Result<Vec<Route>, RouteError> {
    match product {
        Some("windows") => {}
        Some("mamori") => return mamori(category_name, service_name),
        other => {
            return Err(RouteError::NotWindows(
                other.unwrap_or("(none)").to_string(),
            ));
        }
    }
    match (category_name, service_name) {
        (Some(c), Some(s)) => {
            let by_cat = category(c).ok_or_else(|| RouteError::Unknown(format!("category {c}")))?;
            let chans = service(s).ok_or_else(|| RouteError::Unknown(format!("service {s}")))?;
            let chans: Vec<String> = chans.iter().map(|c| c.to_lowercase()).collect();
            let kept: Vec<Route> = by_cat
                .into_iter()
                .filter(|r| r.channel.as_ref().is_some_and(|c| chans.contains(c)))
                .collect();
            if kept.is_empty() {
                Ok(channels(
                    &chans.iter().map(String::as_str).collect::<Vec<_>>(),
                    &[],
                ))
            } else {
                Ok(kept)
            }
        }
        (Some(c), None) => category(c).ok_or_else(|| RouteError::Unknown(format!("category {c}"))),
        (None, Some(s)) => service(s)
            .map(|chans| channels(chans, &[]))
            .ok_or_else(|| RouteError::Unknown(format!("service {s}"))),
        (None, None) => Ok(vec![Route {
            channel: None,
            event_ids: Vec::new(),
            field_map: FieldMap::Native,
            require: None,
        }]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_creation_is_sysmon_1_and_security_4688() {
        let r = routes(Some("windows"), Some("process_creation"), None).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].event_ids, vec![1]);
        assert_eq!(r[1].channel.as_deref(), Some("security"));
        assert_eq!(r[1].field_map.map("Image"), "NewProcessName");
        assert_eq!(r[1].field_map.map("CommandLine"), "CommandLine");
    }

    #[test]
    fn services_and_refusals() {
        let r = routes(Some("windows"), None, Some("security")).unwrap();
        assert_eq!(r[0].channel.as_deref(), Some("security"));
        assert!(r[0].event_ids.is_empty());
        assert!(matches!(
            routes(Some("linux"), Some("process_creation"), None),
            Err(RouteError::NotWindows(_))
        ));
        assert!(matches!(
            routes(Some("windows"), Some("file_access"), None),
            Err(RouteError::Unknown(_))
        ));
        let r = routes(Some("windows"), None, None).unwrap();
        assert_eq!(r[0].channel, None);
    }

    #[test]
    fn mamori_categories_narrow_the_action() {
        let r = routes(Some("mamori"), Some("ehr_access"), None).unwrap();
        assert_eq!(r[0].channel.as_deref(), Some(MAMORI_CHANNEL));
        let (field, actions) = r[0].require.unwrap();
        assert_eq!(field, "action");
        assert!(actions.contains(&"record_viewed"));
        let all = routes(Some("mamori"), None, None).unwrap();
        assert_eq!(all[0].require, None);
        assert!(matches!(
            routes(Some("mamori"), Some("dns"), None),
            Err(RouteError::Unknown(_))
        ));
    }
}
