"""Management commands of django-helpdesk-oauth and their shared presentation helpers.

The commands are thin wrappers over :mod:`django_helpdesk_oauth.services`;
:mod:`.formatting`, :mod:`.inputs` and :mod:`.progress` hold what they share.
"""
