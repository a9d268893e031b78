"""The `oa_threads_map` repository: the design's functions, their windows, and a real race on PostgreSQL."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from threads.models import OaThreadMap
from threads.repository import (
    delete_mapping,
    get_all_mappings,
    get_mapping_statistics,
    get_thread_id,
    get_user_phone_by_thread_id,
    health_check,
    save_thread_id,
    use_mapping,
)

PHONE = "whatsapp:+5215512345678"
OTHER = "whatsapp:+5213398765432"


def backdate(phone, *, created_hours_ago=None, updated_hours_ago=None):
    now = timezone.now()
    changes = {}
    if created_hours_ago is not None:
        changes["created_at"] = now - timedelta(hours=created_hours_ago)
    if updated_hours_ago is not None:
        changes["updated_at"] = now - timedelta(hours=updated_hours_ago)
    OaThreadMap.objects.filter(pk=phone).update(**changes)


@pytest.mark.django_db
class TestGetAndSave:
    def test_unknown_phone_has_no_thread(self):
        assert get_thread_id(PHONE) is None

    def test_saved_thread_id_is_returned_with_database_timestamps(self):
        save_thread_id(PHONE, "conv_abc")

        row = OaThreadMap.objects.get(pk=PHONE)
        assert get_thread_id(PHONE) == "conv_abc"
        assert row.created_at is not None
        assert row.updated_at is not None
        assert abs(row.created_at - timezone.now()) < timedelta(minutes=1)

    def test_saving_again_replaces_the_thread_and_keeps_created_at(self):
        save_thread_id(PHONE, "thread_old")
        backdate(PHONE, created_hours_ago=48, updated_hours_ago=48)
        created = OaThreadMap.objects.get(pk=PHONE).created_at

        save_thread_id(PHONE, "conv_new")

        row = OaThreadMap.objects.get(pk=PHONE)
        assert OaThreadMap.objects.count() == 1
        assert row.thread_id == "conv_new"
        assert row.created_at == created
        assert row.updated_at > created + timedelta(hours=47)

    def test_saving_one_phone_leaves_the_others_alone(self):
        save_thread_id(PHONE, "conv_a")
        save_thread_id(OTHER, "conv_b")

        save_thread_id(PHONE, "conv_c")

        assert get_thread_id(OTHER) == "conv_b"

    def test_using_a_mapping_returns_its_thread_and_marks_it_used_now(self):
        save_thread_id(PHONE, "conv_a")
        save_thread_id(OTHER, "conv_b")
        backdate(PHONE, updated_hours_ago=48)
        backdate(OTHER, updated_hours_ago=48)

        assert use_mapping(PHONE) == "conv_a"

        assert abs(OaThreadMap.objects.get(pk=PHONE).updated_at - timezone.now()) < timedelta(minutes=1)
        assert OaThreadMap.objects.get(pk=OTHER).updated_at < timezone.now() - timedelta(hours=47)
        assert use_mapping("whatsapp:+5210000000000") is None


@pytest.mark.django_db
class TestLookupsAndDelete:
    def test_phone_is_found_by_its_thread_id(self):
        save_thread_id(PHONE, "conv_a")
        save_thread_id(OTHER, "thread_b")

        assert get_user_phone_by_thread_id("thread_b") == OTHER
        assert get_user_phone_by_thread_id("conv_unknown") is None

    def test_delete_reports_whether_a_mapping_existed(self):
        save_thread_id(PHONE, "conv_a")

        assert delete_mapping(PHONE) is True
        assert get_thread_id(PHONE) is None
        assert delete_mapping(PHONE) is False


@pytest.mark.django_db
class TestListingAndStatistics:
    def test_all_mappings_come_most_recently_updated_first_up_to_the_limit(self):
        for index, hours_ago in enumerate([5, 1, 30, 2]):
            phone = f"whatsapp:+52155000000{index}"
            save_thread_id(phone, f"conv_{index}")
            backdate(phone, updated_hours_ago=hours_ago)

        assert [m.thread_id for m in get_all_mappings(10)] == ["conv_1", "conv_3", "conv_0", "conv_2"]
        assert [m.thread_id for m in get_all_mappings(2)] == ["conv_1", "conv_3"]
        assert get_all_mappings(0) == []

    def test_all_mappings_break_ties_by_creation(self):
        save_thread_id(PHONE, "conv_older")
        save_thread_id(OTHER, "conv_newer")
        backdate(PHONE, created_hours_ago=10, updated_hours_ago=1)
        backdate(OTHER, created_hours_ago=5)
        OaThreadMap.objects.update(updated_at=timezone.now() - timedelta(hours=1))

        assert [m.thread_id for m in get_all_mappings(10)] == ["conv_newer", "conv_older"]

    def test_statistics_count_the_last_24_hours(self):
        save_thread_id("whatsapp:+1", "conv_new")  # created and updated now
        save_thread_id("whatsapp:+2", "conv_old_active")
        backdate("whatsapp:+2", created_hours_ago=72, updated_hours_ago=3)
        save_thread_id("whatsapp:+3", "conv_old_idle")
        backdate("whatsapp:+3", created_hours_ago=72, updated_hours_ago=25)
        save_thread_id("whatsapp:+4", "conv_edge")
        backdate("whatsapp:+4", created_hours_ago=23.9, updated_hours_ago=24.1)

        assert get_mapping_statistics() == {"total_mappings": 4, "created_last_24h": 2, "updated_last_24h": 2}

    def test_statistics_of_an_empty_table_are_zero(self):
        assert get_mapping_statistics() == {"total_mappings": 0, "created_last_24h": 0, "updated_last_24h": 0}


@pytest.mark.django_db
def test_health_check_reports_ok_and_latency():
    report = health_check()

    assert report["ok"] is True
    assert report["latency_ms"] >= 0
    assert "error" not in report


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(5))
def test_concurrent_saves_for_one_phone_leave_exactly_one_row(attempt):
    thread_ids = [f"conv_race_{attempt}_a", f"conv_race_{attempt}_b"]
    barrier = threading.Barrier(len(thread_ids), timeout=10)
    errors = []

    def save(thread_id):
        try:
            connection.ensure_connection()  # connect before the barrier, so both writes start together
            barrier.wait()
            save_thread_id(PHONE, thread_id)
        except Exception as exc:  # reported below, with the thread's own traceback lost otherwise
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=save, args=(tid,)) for tid in thread_ids]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=20)

    assert errors == []
    assert OaThreadMap.objects.filter(pk=PHONE).count() == 1
    assert get_thread_id(PHONE) in thread_ids
