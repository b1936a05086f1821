//! Method and module names, without an allocation for the common ones.

use core::fmt;
use core::ops::Deref;
use std::borrow::Cow;

/// A module or method name as a message spells it.
///
/// The names devices and apps use most are kept as static strings, so that reading a message
/// allocates nothing for them (two allocations per message otherwise, a measurable part of the
/// decoder's time); any other name is an owned copy. Either way it reads, compares and hashes
/// as the `str` it holds.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(Cow<'static, str>);

/// The names kept static (IOT modules and methods, SMART methods), matched by `match`, which
/// the compiler turns into a decision on length and bytes (a linear search through the list
/// cost as much as the allocation it saves).
macro_rules! known {
    ($($name:literal,)*) => {
        fn known(name: &str) -> Option<&'static str> {
            match name {
                $($name => Some($name),)*
                _ => None,
            }
        }

        #[cfg(test)]
        const KNOWN: &[&str] = &[$($name,)*];
    };
}

known! {
    // IOT modules.
    "system",
    "emeter",
    "schedule",
    "count_down",
    "anti_theft",
    "cnCloud",
    "netif",
    "time",
    "context",
    "smartlife.iot.common.emeter",
    "smartlife.iot.common.cloud",
    "smartlife.iot.common.schedule",
    "smartlife.iot.common.timesetting",
    "smartlife.iot.dimmer",
    "smartlife.iot.smartbulb.lightingservice",
    "smartlife.iot.lighting_effect",
    "smartlife.iot.LAS",
    "smartlife.iot.PIR",
    // IOT methods.
    "get_sysinfo",
    "set_relay_state",
    "set_led_off",
    "set_dev_alias",
    "reboot",
    "reset",
    "get_realtime",
    "get_daystat",
    "get_monthstat",
    "erase_emeter_stat",
    "get_info",
    "bind",
    "unbind",
    "set_server_url",
    "get_intl_fw_list",
    "get_scaninfo",
    "set_stainfo",
    "get_stainfo",
    "get_time",
    "get_timezone",
    "set_timezone",
    "get_rules",
    "add_rule",
    "edit_rule",
    "delete_rule",
    "delete_all_rules",
    "get_next_action",
    "get_light_state",
    "transition_light_state",
    "get_light_details",
    "set_brightness",
    "get_dimmer_parameters",
    "get_wifi_ssid",
    // SMART methods.
    "get_device_info",
    "set_device_info",
    "get_device_usage",
    "get_device_time",
    "get_energy_usage",
    "get_current_power",
    "get_emeter_data",
    "component_nego",
    "multipleRequest",
    "login_device",
    "get_child_device_list",
    "get_child_device_component_list",
    "control_child",
    "get_connect_cloud_state",
    "get_latest_fw",
    "get_wireless_scan_info",
    "get_auto_update_info",
    "get_countdown_rules",
    "get_schedule_rules",
    "get_next_event",
    "get_protection_power",
    "get_electricity_price_config",
    "qs_component_nego",
    "securePassthrough",
    "handshake",
}

impl Name {
    pub fn new(name: &str) -> Name {
        match known(name) {
            Some(k) => Name(Cow::Borrowed(k)),
            None => Name(Cow::Owned(name.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for Name {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl core::borrow::Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Name {
    fn from(name: &str) -> Name {
        Name::new(name)
    }
}

impl From<String> for Name {
    fn from(name: String) -> Name {
        match known(&name) {
            Some(k) => Name(Cow::Borrowed(k)),
            None => Name(Cow::Owned(name)),
        }
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn reads_compares_and_hashes_as_its_text() {
        for text in [
            "get_sysinfo",
            "system",
            "a_name_nobody_knows",
            "",
            "Ünïcode",
        ] {
            let name = Name::new(text);
            assert_eq!(name.as_str(), text);
            assert_eq!(name, *text);
            assert_eq!(name, text);
            assert_eq!(name.to_string(), text);
            assert_eq!(format!("{name:?}"), format!("{text:?}"));
            assert_eq!(Name::from(text.to_owned()), name);
            let set: HashSet<Name> = [name.clone()].into();
            assert!(set.contains(text), "Borrow<str> hashes as the str");
        }
        // Static or owned, the same name is equal.
        assert_eq!(Name(Cow::Owned("system".into())), Name::new("system"));
    }

    #[test]
    fn common_names_are_static() {
        assert!(matches!(Name::new("get_sysinfo").0, Cow::Borrowed(_)));
        assert!(matches!(Name::new("get_device_info").0, Cow::Borrowed(_)));
        assert!(matches!(Name::new("get_sysinfo ").0, Cow::Owned(_)));
        let mut seen = HashSet::new();
        assert!(KNOWN.iter().all(|k| seen.insert(k)), "each name once");
        assert!(KNOWN.iter().all(|k| known(k) == Some(*k)));
    }
}
