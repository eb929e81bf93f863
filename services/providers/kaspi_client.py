# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A small client of the Kaspi QR partner API (unverified, see kaspi_adapter)."""

import requests

from .kaspi_adapter import envelope_data

TIMEOUT = 15


class KaspiQrClient:
    def __init__(self, base_url, api_key, session=None):
        if not base_url or not api_key:
            raise ValueError("The Kaspi API URL and API key are not configured.")
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        self.session.headers.update({"Api-Key": api_key, "Accept": "application/json"})

    def _call(self, method, path, **kwargs):
        response = self.session.request(
            method, "%s/%s" % (self.base_url, path), timeout=TIMEOUT, **kwargs
        )
        response.raise_for_status()
        return envelope_data(response.json())

    def create_link(self, amount, external_id, organization_bin):
        return self._call(
            "POST",
            "qr/create-link",
            json={
                "OrganizationBin": organization_bin,
                "Amount": round(float(amount), 2),
                "ExternalId": external_id,
            },
        )

    def create_remote(self, amount, phone, comment, organization_bin, device_token):
        """An invoice to ``phone`` in the Kaspi app (remote payment)."""
        if not device_token:
            raise ValueError("The Kaspi device token is not configured.")
        return self._call(
            "POST",
            "remote/create",
            json={
                "OrganizationBin": organization_bin,
                "DeviceToken": device_token,
                "PhoneNumber": phone,
                "Amount": round(float(amount), 2),
                "Comment": comment,
            },
        )

    def cancel_remote(self, qr_payment_id, organization_bin, device_token):
        """Take back an unpaid remote payment."""
        if not device_token:
            raise ValueError("The Kaspi device token is not configured.")
        return self._call(
            "POST",
            "remote/cancel",
            json={
                "OrganizationBin": organization_bin,
                "DeviceToken": device_token,
                "QrPaymentId": int(qr_payment_id)
                if str(qr_payment_id).isdigit()
                else qr_payment_id,
            },
        )

    def status(self, qr_payment_id):
        return self._call("GET", "payment/status/%s" % qr_payment_id)
