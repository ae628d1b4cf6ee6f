# -*- coding: utf-8 -*-
# Copyright: (c) 2026, realtime_asr maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filter awx_survey_errors: the checks of module_utils/awx_survey.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.awx_survey import survey_spec_errors


def awx_survey_errors(spec):
    """Problems of an AWX survey spec, as a list of messages (empty: valid)."""
    return survey_spec_errors(spec)


class FilterModule(object):
    """AWX survey spec checks."""

    def filters(self):
        return {"awx_survey_errors": awx_survey_errors}
