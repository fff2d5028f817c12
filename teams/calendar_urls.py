"""iCal feeds under /calendar/ (secret token in the query string)."""

from django.urls import path

from teams import calendar

urlpatterns = [
    path("teams/<slug:slug>.ics", calendar.team_feed, name="calendar-team"),
    path("members/<int:member_id>.ics", calendar.member_feed, name="calendar-member"),
]
