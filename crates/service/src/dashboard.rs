//! Read models behind the pages: the dashboard summary, ledger lists and the audit trail.

use crate::Services;
use crate::authz::{Cap, perm};
use crate::error::ServiceResult;
use mamori_domain::audit::{AuditRecord, ChainBreak};
use mamori_domain::findings::{self, LeaverAccount};
use mamori_domain::ledger::{Account, Asset, AssetClass, AssetStatus, InfoSystem, Person, Vendor};
use std::collections::BTreeMap;
use time::Date;

/// Everything the dashboard shows.
#[derive(Debug, Clone)]
pub struct Dashboard {
    pub today: Date,
    pub assets_active: usize,
    pub assets_by_class: Vec<(AssetClass, usize)>,
    pub patch_buckets: [usize; 5],
    pub assets_past_eol: Vec<Asset>,
    pub persons_active: usize,
    pub persons_left: usize,
    pub accounts_enabled: usize,
    pub accounts_disabled: usize,
    pub leaver_accounts: Vec<LeaverAccount>,
    pub dormant_accounts: usize,
    pub admin_accounts: usize,
    pub vendors: usize,
    pub vendors_unconfirmed_remote: usize,
    pub users_total: usize,
    pub users_two_factor: usize,
    pub audit_events: i64,
    pub recent_audit: Vec<AuditRecord>,
    /// The latest verification of the sealed log (a failed one is shown loudly).
    pub seal_verification: Option<crate::sealing::Verification>,
}

/// Accounts with their owners and systems.
#[derive(Debug, Clone)]
pub struct AccountsView {
    pub today: Date,
    pub accounts: Vec<Account>,
    pub persons: Vec<Person>,
    pub systems: Vec<InfoSystem>,
    pub leavers: Vec<LeaverAccount>,
    pub dormant_days: u32,
}

/// Result of checking the audit trail end to end.
#[derive(Debug, Clone)]
pub struct AuditStatus {
    pub verified: i64,
    pub head_hash_hex: String,
    pub broken: Option<ChainBreak>,
}

impl Services {
    pub async fn dashboard(&self, _cap: &Cap<perm::ViewDashboard>) -> ServiceResult<Dashboard> {
        let today = self.clock.today();
        let facility = self.store.facility().await?;
        let dormant_days = facility
            .as_ref()
            .map(|f| i64::from(f.settings.dormant_account_days))
            .unwrap_or(90);
        let assets = self.store.records::<Asset>().await?;
        let persons = self.store.records::<Person>().await?;
        let accounts = self.store.records::<Account>().await?;
        let vendors = self.store.records::<Vendor>().await?;
        let users = self.store.users().await?;
        let with_keys = self.store.users_with_credentials().await?;

        let active: Vec<&Asset> = assets
            .iter()
            .filter(|a| a.status == AssetStatus::Active)
            .collect();
        let mut by_class: BTreeMap<AssetClass, usize> = BTreeMap::new();
        for a in &active {
            *by_class.entry(a.class).or_default() += 1;
        }
        let eol_ids = findings::assets_past_eol(&assets, today);
        Ok(Dashboard {
            today,
            assets_active: active.len(),
            assets_by_class: by_class.into_iter().collect(),
            patch_buckets: findings::patch_age_buckets(&assets, today),
            assets_past_eol: assets
                .iter()
                .filter(|a| eol_ids.contains(&a.id))
                .cloned()
                .collect(),
            persons_active: persons.iter().filter(|p| !p.has_left(today)).count(),
            persons_left: persons.iter().filter(|p| p.has_left(today)).count(),
            accounts_enabled: accounts.iter().filter(|a| a.enabled).count(),
            accounts_disabled: accounts.iter().filter(|a| !a.enabled).count(),
            leaver_accounts: findings::leavers_with_enabled_accounts(&persons, &accounts, today),
            dormant_accounts: findings::dormant_accounts(&accounts, today, dormant_days).len(),
            admin_accounts: accounts.iter().filter(|a| a.enabled && a.is_admin).count(),
            vendors: vendors.len(),
            vendors_unconfirmed_remote: vendors
                .iter()
                .filter(|v| v.remote_maintenance.is_none())
                .count(),
            users_total: users.iter().filter(|u| !u.disabled).count(),
            users_two_factor: users
                .iter()
                .filter(|u| !u.disabled && (u.totp_enabled || with_keys.contains(&u.id)))
                .count(),
            audit_events: self.store.audit_count().await?,
            recent_audit: self.store.audit_events(8, 0).await?,
            seal_verification: self.seal_verifications(1).await?.into_iter().next(),
        })
    }

    pub async fn accounts_view(
        &self,
        _cap: &Cap<perm::ViewAccounts>,
    ) -> ServiceResult<AccountsView> {
        let today = self.clock.today();
        let persons = self.store.records::<Person>().await?;
        let accounts = self.store.records::<Account>().await?;
        let dormant_days = self
            .store
            .facility()
            .await?
            .map(|f| f.settings.dormant_account_days)
            .unwrap_or(90);
        Ok(AccountsView {
            today,
            leavers: findings::leavers_with_enabled_accounts(&persons, &accounts, today),
            accounts,
            persons,
            systems: self.store.records::<InfoSystem>().await?,
            dormant_days,
        })
    }

    pub async fn vendors(
        &self,
        _cap: &Cap<perm::ViewVendors>,
    ) -> ServiceResult<(Vec<Vendor>, Vec<InfoSystem>)> {
        Ok((
            self.store.records::<Vendor>().await?,
            self.store.records::<InfoSystem>().await?,
        ))
    }

    /// The systems a vendor user supplies (their portal).
    pub async fn vendor_portal(
        &self,
        cap: &Cap<perm::VendorPortal>,
    ) -> ServiceResult<(Option<Vendor>, Vec<InfoSystem>)> {
        let Some(vid) = cap.actor().user.vendor_id else {
            return Ok((None, Vec::new()));
        };
        let vendor = self
            .store
            .records::<Vendor>()
            .await?
            .into_iter()
            .find(|v| v.id == vid);
        let systems = self
            .store
            .records::<InfoSystem>()
            .await?
            .into_iter()
            .filter(|s| s.vendor_id == Some(vid))
            .collect();
        Ok((vendor, systems))
    }

    pub async fn audit_page(
        &self,
        _cap: &Cap<perm::ViewAudit>,
        limit: i64,
        offset: i64,
    ) -> ServiceResult<(Vec<AuditRecord>, i64)> {
        Ok((
            self.store.audit_events(limit, offset).await?,
            self.store.audit_count().await?,
        ))
    }

    pub async fn verify_audit(&self, _cap: &Cap<perm::ViewAudit>) -> ServiceResult<AuditStatus> {
        let c = self.store.verify_audit_trail().await?;
        Ok(AuditStatus {
            verified: c.verified,
            head_hash_hex: hex::encode(c.head_hash),
            broken: c.broken,
        })
    }
}
