"""Set every support number's Voice URL, Voice Fallback URL, status callback and Messaging URL on Twilio."""

from django.core.management.base import BaseCommand, CommandError

from teams import selectors
from telephony.numbers import numbers_sync, webhook_urls


class Command(BaseCommand):
    help = "Point each support number's Twilio webhooks at PUBLIC_BASE_URL; report numbers the account does not own."

    def add_arguments(self, parser):
        parser.add_argument("numbers", nargs="*", help="Only these E.164 numbers (default: all support numbers).")
        parser.add_argument("--dry-run", action="store_true", help="Print the URLs that would be set, change nothing.")

    def handle(self, *args, numbers, dry_run, **options):
        queryset = selectors.support_numbers(phone_numbers=numbers or None)
        if numbers:
            unknown = set(numbers) - selectors.support_numbers_among(phones=numbers)
            if unknown:
                raise CommandError(f"Not support numbers here: {', '.join(sorted(unknown))}")
        if dry_run:
            for name, value in webhook_urls().items():
                self.stdout.write(f"{name} = {value}")
            for number in queryset:
                self.stdout.write(f"would update {number.phone_number} ({number.team})")
            return
        report = numbers_sync(numbers=queryset)
        for warning in report.warnings:
            self.stderr.write(self.style.WARNING(warning))
        for phone in report.updated:
            self.stdout.write(self.style.SUCCESS(f"updated {phone}"))
        for phone in report.not_owned:
            self.stderr.write(self.style.ERROR(f"not owned by this Twilio account: {phone}"))
        for phone, error in report.failed.items():
            self.stderr.write(self.style.ERROR(f"failed {phone}: {error}"))
        if not report.is_ok:
            raise CommandError(f"{len(report.not_owned) + len(report.failed)} number(s) not set up.")
