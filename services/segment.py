# Copyright 2026 customer_success authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Customer segment from contract value and team size (SPEC A2)."""

SMB = "smb"
MID_MARKET = "mid_market"
ENTERPRISE = "enterprise"


def segment_for(arr, team_size, mid_arr, enterprise_arr, mid_team, enterprise_team):
    """The highest segment whose ARR or team-size threshold the customer reaches.

    A threshold of 0 is disabled. ARR is in company currency.
    """
    arr = arr or 0.0
    team_size = team_size or 0
    if (enterprise_arr and arr >= enterprise_arr) or (
        enterprise_team and team_size >= enterprise_team
    ):
        return ENTERPRISE
    if (mid_arr and arr >= mid_arr) or (mid_team and team_size >= mid_team):
        return MID_MARKET
    return SMB
