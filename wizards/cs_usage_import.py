# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import base64
import csv
import io

from odoo import fields
from odoo import models
from odoo.exceptions import UserError

from ..services import usage as usage_service

_NUMBERS = ("value", "partner_id")


class _Semicolon(csv.excel):
    delimiter = ";"  # what Excel writes where the decimal separator is a comma


class CsUsageImport(models.TransientModel):
    """Load usage events from a CSV file, with the API's rules and a line-by-line report.

    Columns (header row): one account column among partner_id, customer_ref,
    external_customer_ref, subscription_ref; then type, timestamp, and
    optionally value, user, feature, id. Separator: comma or semicolon.
    """

    _name = "cs.usage.import"
    _description = "Import Usage Events"

    file = fields.Binary(string="CSV File", required=True)
    filename = fields.Char()
    state = fields.Selection([("draft", "Draft"), ("done", "Done")], default="draft")
    accepted = fields.Integer(readonly=True)
    duplicates = fields.Integer(readonly=True)
    rejected = fields.Integer(readonly=True)
    report = fields.Text(readonly=True)

    def _read_rows(self):
        try:
            text = base64.b64decode(self.file).decode("utf-8-sig")
        except (ValueError, UnicodeDecodeError) as exc:
            raise UserError(self.env._("The file is not a UTF-8 CSV file.")) from exc
        try:
            dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;")
        except csv.Error:  # ragged lines: the header's separator decides
            header = text.split("\n", 1)[0]
            dialect = csv.excel if header.count(",") >= header.count(";") else _Semicolon
        reader = csv.DictReader(io.StringIO(text), dialect=dialect)
        if not reader.fieldnames or "type" not in reader.fieldnames:
            raise UserError(
                self.env._("The first line must name the columns, 'type' and 'timestamp' included.")
            )
        rows = []
        try:
            for row in reader:
                rows.append(self._read_row(row))
        except csv.Error as exc:
            raise UserError(
                self.env._(
                    "Line %(line)s cannot be read: %(error)s", line=reader.line_num, error=exc
                )
            ) from exc
        if len(rows) > 100000:
            raise UserError(self.env._("At most 100,000 lines per file."))
        return rows

    @staticmethod
    def _read_row(row):
        item = {k.strip(): (v or "").strip() for k, v in row.items() if isinstance(k, str)}
        item = {k: v for k, v in item.items() if v != ""}
        for key in _NUMBERS:
            if key in item:
                try:
                    number = float(item[key].replace(",", "."))
                    item[key] = int(number) if key == "partner_id" else number
                except (ValueError, OverflowError):
                    pass  # left as text: the validation reports it
        if "timestamp" in item and item["timestamp"].isascii() and item["timestamp"].isdigit():
            item["timestamp"] = int(item["timestamp"])
        if "user" not in item and "user_ref" in item:
            item["user"] = item.pop("user_ref")
        return item

    def action_import(self):
        self.ensure_one()
        rows = self._read_rows()
        if not rows:
            raise UserError(self.env._("The file has no event line."))
        company = self.env.company
        Event = self.env["cs.usage.event"].sudo().with_company(company)
        accepted = duplicates = 0
        errors = []
        for start in range(0, len(rows), usage_service.MAX_ITEMS):
            chunk = rows[start : start + usage_service.MAX_ITEMS]
            ok, dup, chunk_errors = Event._ingest(company, chunk)
            accepted += ok
            duplicates += dup
            errors += [dict(e, index=e["index"] + start) for e in chunk_errors]
        lines = [
            self.env._(
                "Line %(line)s: %(errors)s", line=e["index"] + 2, errors="; ".join(e["errors"])
            )
            for e in errors
        ]
        self.write(
            {
                "state": "done",
                "accepted": accepted,
                "duplicates": duplicates,
                "rejected": len(errors),
                "report": "\n".join(lines) or self.env._("Every line was imported."),
            }
        )
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }
