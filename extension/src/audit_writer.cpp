// The usage-audit writer of the sharing functions (70_sharing.sql).
//
// A refused request raises an error, and the error aborts the caller's
// transaction: an audit row INSERTed in that transaction would vanish with it,
// and so would the row of a read the caller later rolls back. So every
// usage_audit row is committed by another process, and the backend waits
// until it is, or refuses the call (fail closed: no row, no answer).
//
// One writer per database, shared by every session of that database:
//
//   backend (SQL function _audit_autonomous(text))    audit writer (dynamic bgworker)
//     its mailbox: a small DSM segment made once per
//     session (no worker slot), the record copied in
//     queue entry {database, mailbox handle, latch} -> takes the entries queued
//     into a small shared struct; starts the            (up to 32), attaches each mailbox,
//     database's writer if none runs                    INSERTs via elicense._audit_insert
//                                                       as the caller's definer role, ONE
//                                                       COMMIT for all (on failure: one
//                                                       by one)
//     waits on its latch, cancel held, at most     <--  writes id or error into the
//     kAuditWaitMs                                      mailbox, sets the latch
//
// Why this design: CREATE EXTENSION alone must work, so there is no
// shared_preload_libraries and no shared memory reserved at server start.
// The shared struct (a few hundred bytes) is allocated late with
// ShmemInitStruct from the slop PostgreSQL leaves in its main segment for
// exactly that (CalculateShmemSize starts at 100,000 bytes); records travel in
// the sessions' own DSM segments, so the struct stays small. A writer is
// started on demand and exits after kAuditWriterIdleMs without work (below the
// 5 s DROP DATABASE waits for other sessions to leave). Cost: one worker slot
// per database in use, never one per session.
//
// The writer survives a failed INSERT (the error goes back to the caller, who
// refuses the call with 55000); it exits on SIGTERM and when idle. A writer
// that has gone leaves its queued entries to the next one a waiting backend
// starts.
//
// Plain C-style PostgreSQL API code, no C++ objects live across calls that
// may raise PostgreSQL errors (STYLE.md 3.1 rule 5); nothing here throws.

#include "elicense/limits.hpp"

#include "pg_prelude.hpp"

extern "C" {
#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
}

namespace {

using elicense::core::kAuditQueueEntries;
using elicense::core::kAuditWaitMs;
using elicense::core::kAuditWriterDatabases;
using elicense::core::kAuditWriterIdleMs;
using elicense::core::kMaxAuditRecordBytes;

enum MailboxState : uint32 { kIdle = 0, kSubmitted, kTaken, kWritten, kFailed };

// A session's mailbox (its DSM segment). state and the results are written
// under AuditShared::mutex, which is also the memory barrier.
struct AuditMailbox {
	uint32 state;
	Oid role;  // the definer role the record is written as
	int64 id;
	char sqlstate[6];
	char error[256];
	uint32 length;
	char record[kMaxAuditRecordBytes];
};

struct QueueEntry {
	Oid database;  // InvalidOid: free
	dsm_handle mailbox;
	int requester;  // pgprocno of the backend, whose latch is set when done
};

struct WriterSlot {
	Oid database;  // InvalidOid: free
	int procno;    // the writer's pgprocno, -1 while it is being started
	TimestampTz start_requested_at;
};

// Records the writer commits in one transaction at most: calls arriving
// together share one commit (one WAL flush) instead of queueing on one each.
constexpr int kAuditBatch = 32;

struct AuditShared {
	slock_t mutex;
	WriterSlot writers[kAuditWriterDatabases];
	QueueEntry queue[kAuditQueueEntries];
};

AuditShared *shared = nullptr;

// The shared struct, allocated on first use (see the header comment).
AuditShared *Shared() {
	if (shared != nullptr)
		return shared;
	bool found = false;
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	AuditShared *s = static_cast<AuditShared *>(ShmemInitStruct("elicense usage audit", sizeof(AuditShared), &found));
	if (!found) {
		memset(s, 0, sizeof(AuditShared));
		SpinLockInit(&s->mutex);
		for (auto &w : s->writers)
			w.procno = -1;
	}
	LWLockRelease(AddinShmemInitLock);
	shared = s;
	return s;
}

WriterSlot *WriterOf(AuditShared *s, Oid database) {
	for (auto &w : s->writers)
		if (w.database == database)
			return &w;
	return nullptr;
}

// This database's writer slot, taking a free one if it has none; nullptr
// when every slot belongs to another database. The caller holds s->mutex.
WriterSlot *OwnSlot(AuditShared *s) {
	if (WriterSlot *w = WriterOf(s, MyDatabaseId))
		return w;
	for (auto &free_slot : s->writers)
		if (free_slot.database == InvalidOid) {
			free_slot.database = MyDatabaseId;
			free_slot.procno = -1;
			free_slot.start_requested_at = 0;
			return &free_slot;
		}
	return nullptr;
}

void WakeProc(int procno) {
	if (procno >= 0 && procno < static_cast<int>(ProcGlobal->allProcCount))
		SetLatch(&ProcGlobal->allProcs[procno].procLatch);
}

[[noreturn]] void RefuseCall(const char *detail) {
	ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
	                errmsg("the usage audit row could not be made durable: the sharing call is refused"),
	                errdetail("%s", detail),
	                errhint("Every sharing call is audited by the elicense audit writer, a background worker; check "
	                        "max_worker_processes and the server log, then call again.")));
}

//------------------------------------------------------------------------------
// Backend side
//------------------------------------------------------------------------------

dsm_segment *session_mailbox = nullptr;

AuditMailbox *Mailbox() {
	if (session_mailbox == nullptr) {
		dsm_segment *seg = dsm_create(sizeof(AuditMailbox), DSM_CREATE_NULL_IF_MAXSEGMENTS);
		if (seg == nullptr)
			RefuseCall("no dynamic shared memory segment is free for this session's audit mailbox");
		dsm_pin_mapping(seg);  // the session's, not the transaction's
		memset(dsm_segment_address(seg), 0, sizeof(AuditMailbox));
		session_mailbox = seg;
	}
	return static_cast<AuditMailbox *>(dsm_segment_address(session_mailbox));
}

// A mailbox whose request timed out may still be read by a writer: it is left
// to the writer (freed when both have detached) and the next call makes anew.
void AbandonMailbox() {
	dsm_detach(session_mailbox);
	session_mailbox = nullptr;
}

enum class WriterStart { kRunning, kNoDatabaseSlot, kNoWorkerSlot };

// Starts the writer of this database unless one runs or is being started.
// Never raises: it is called while cancel interrupts are held.
WriterStart EnsureWriter(AuditShared *s) {
	TimestampTz now = GetCurrentTimestamp();
	bool start = false;
	SpinLockAcquire(&s->mutex);
	WriterSlot *w = OwnSlot(s);
	if (w != nullptr && w->procno < 0 &&
	    (w->start_requested_at == 0 || TimestampDifferenceExceeds(w->start_requested_at, now, 1000))) {
		w->start_requested_at = now;
		start = true;
	}
	SpinLockRelease(&s->mutex);
	if (w == nullptr)
		return WriterStart::kNoDatabaseSlot;
	if (!start)
		return WriterStart::kRunning;

	BackgroundWorker worker;
	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "elicense");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "elicense_audit_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "elicense audit writer");
	snprintf(worker.bgw_type, BGW_MAXLEN, "elicense audit writer");
	worker.bgw_main_arg = ObjectIdGetDatum(MyDatabaseId);
	if (RegisterDynamicBackgroundWorker(&worker, nullptr))
		return WriterStart::kRunning;
	SpinLockAcquire(&s->mutex);
	if (w->database == MyDatabaseId && w->procno < 0) {
		w->database = InvalidOid;  // the next call tries again at once
		w->start_requested_at = 0;
	}
	SpinLockRelease(&s->mutex);
	return WriterStart::kNoWorkerSlot;
}

const char *WhyNoWriter(WriterStart why) {
	return why == WriterStart::kNoDatabaseSlot
	           ? "every audit writer slot is taken by other databases"
	           : "no background worker slot is free for the audit writer (max_worker_processes)";
}

// Takes our entry out of the queue if the writer has not yet; true if it did.
bool Unqueue(AuditShared *s, dsm_handle mailbox) {
	bool removed = false;
	SpinLockAcquire(&s->mutex);
	for (auto &e : s->queue)
		if (e.database == MyDatabaseId && e.mailbox == mailbox) {
			e.database = InvalidOid;
			removed = true;
		}
	SpinLockRelease(&s->mutex);
	return removed;
}

}  // namespace

// elicense._audit_autonomous(record text) -> bigint: the id of the committed
// usage_audit row; raises 55000 when it cannot be committed (the caller's
// call is then refused), 54000 for a record over kMaxAuditRecordBytes.
// Runs as the extension owner (called from SECURITY DEFINER functions only):
// the writer writes as that role.
extern "C" {
PG_FUNCTION_INFO_V1(elicense_audit_autonomous);
PGDLLEXPORT Datum elicense_audit_autonomous(PG_FUNCTION_ARGS);
PGDLLEXPORT void elicense_audit_worker_main(Datum arg);
}

Datum elicense_audit_autonomous(PG_FUNCTION_ARGS) {
	text *record = PG_GETARG_TEXT_PP(0);
	Size length = VARSIZE_ANY_EXHDR(record);
	if (length > kMaxAuditRecordBytes)
		ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
		                errmsg("usage audit record of %zu bytes is over the limit of %zu bytes",
		                       static_cast<size_t>(length), static_cast<size_t>(kMaxAuditRecordBytes)),
		                errhint("elicense._record shortens long values; a record this long is a bug.")));
	AuditShared *s = Shared();
	AuditMailbox *box = Mailbox();
	dsm_handle handle = dsm_segment_handle(session_mailbox);
	Oid role = GetUserId();

	// The mailbox is idle (no writer reads it): fill it, then publish it under
	// the lock, which is also the memory barrier the writer reads it after.
	box->role = role;
	box->id = 0;
	box->sqlstate[0] = '\0';
	box->error[0] = '\0';
	box->length = static_cast<uint32>(length);
	memcpy(box->record, VARDATA_ANY(record), length);
	SpinLockAcquire(&s->mutex);
	box->state = kSubmitted;
	QueueEntry *entry = nullptr;
	for (auto &e : s->queue)
		if (e.database == InvalidOid) {
			entry = &e;
			entry->database = MyDatabaseId;
			entry->mailbox = handle;
			entry->requester = MyProc->pgprocno;
			break;
		}
	WriterSlot *w = WriterOf(s, MyDatabaseId);
	int writer = w != nullptr ? w->procno : -1;
	if (entry == nullptr)
		box->state = kIdle;
	SpinLockRelease(&s->mutex);
	if (entry == nullptr)
		RefuseCall("the audit queue is full (the writer is behind)");
	WriterStart started = WriterStart::kRunning;
	if (writer >= 0)
		WakeProc(writer);
	else
		started = EnsureWriter(s);
	if (started != WriterStart::kRunning) {
		Unqueue(s, handle);
		SpinLockAcquire(&s->mutex);
		box->state = kIdle;
		SpinLockRelease(&s->mutex);
		RefuseCall(WhyNoWriter(started));
	}

	// A cancel (statement_timeout, pg_cancel_backend) waits until the row is
	// written, so that a cancelled call is audited too; the wait is bounded.
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), kAuditWaitMs);
	uint32 state = kSubmitted;
	HOLD_CANCEL_INTERRUPTS();
	for (;;) {
		SpinLockAcquire(&s->mutex);
		state = box->state;
		w = WriterOf(s, MyDatabaseId);
		bool need_writer = w == nullptr || w->procno < 0;
		SpinLockRelease(&s->mutex);
		if (state == kWritten || state == kFailed)
			break;
		if (GetCurrentTimestamp() >= deadline)
			break;
		if (need_writer && state == kSubmitted && (started = EnsureWriter(s)) != WriterStart::kRunning)
			break;  // the writer went away and none can start
		int rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 50, PG_WAIT_EXTENSION);
		if (rc & WL_LATCH_SET)
			ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();  // pg_terminate_backend still ends the session
	}
	RESUME_CANCEL_INTERRUPTS();

	if (state == kWritten) {
		int64 id = box->id;
		box->state = kIdle;
		PG_RETURN_INT64(id);
	}
	if (state == kFailed) {
		char detail[400];
		snprintf(detail, sizeof(detail), "the audit writer's INSERT failed with SQLSTATE %s: %s", box->sqlstate,
		         box->error);
		box->state = kIdle;
		RefuseCall(detail);
	}
	bool unqueued = Unqueue(s, handle);
	AbandonMailbox();
	if (started != WriterStart::kRunning)
		RefuseCall(WhyNoWriter(started));
	RefuseCall(unqueued ? "no audit writer took the record in time"
	                    : "the audit writer did not commit the record in time");
}

//------------------------------------------------------------------------------
// Writer side
//------------------------------------------------------------------------------

namespace {

int my_slot = -1;

// On any exit: free the database's slot, so that a waiting backend starts a new writer.
void ReleaseSlot(int, Datum) {
	if (shared == nullptr || my_slot < 0)
		return;
	SpinLockAcquire(&shared->mutex);
	WriterSlot &w = shared->writers[my_slot];
	if (w.database == MyDatabaseId && w.procno == MyProc->pgprocno) {
		w.database = InvalidOid;
		w.procno = -1;
		w.start_requested_at = 0;
	}
	SpinLockRelease(&shared->mutex);
	my_slot = -1;
}

// Claims the database's slot; false if another writer already has it.
bool ClaimSlot(AuditShared *s) {
	bool claimed = false;
	SpinLockAcquire(&s->mutex);
	WriterSlot *w = OwnSlot(s);
	if (w != nullptr && w->procno < 0) {
		w->procno = MyProc->pgprocno;
		my_slot = static_cast<int>(w - s->writers);
		claimed = true;
	}
	SpinLockRelease(&s->mutex);
	return claimed;
}

// Takes up to `max` queued entries of this database; with exit_if_none,
// frees the slot in the same critical section when there is none (no entry
// is stranded). Returns how many.
int TakeEntries(AuditShared *s, QueueEntry *out, int max, bool exit_if_none) {
	int took = 0;
	SpinLockAcquire(&s->mutex);
	for (auto &e : s->queue)
		if (e.database == MyDatabaseId && took < max) {
			out[took++] = e;
			e.database = InvalidOid;
		}
	if (took == 0 && exit_if_none && my_slot >= 0) {
		s->writers[my_slot].database = InvalidOid;
		s->writers[my_slot].procno = -1;
		s->writers[my_slot].start_requested_at = 0;
		my_slot = -1;
	}
	SpinLockRelease(&s->mutex);
	return took;
}

// One record taken from its mailbox, and its outcome.
struct Pending {
	QueueEntry entry;
	dsm_segment *segment;
	AuditMailbox *box;
	text *record;
	Oid role;
	int64 id;
	char sqlstate[6];
	char error[256];
};

// INSERTs records [from, to) in ONE transaction (one commit, one WAL flush
// for a burst of calls). True if committed (ids set); false with the error in
// every record of the range. Never raises.
bool InsertInOneTransaction(Pending *pending, int from, int to, MemoryContext work) {
	volatile bool committed = false;  // set inside PG_TRY, read after a longjmp
	char sqlstate[6] = "";
	char error[256] = "";
	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, "elicense audit writer: INSERT INTO elicense.usage_audit");
		Oid saved_user;
		int saved_context;
		GetUserIdAndSecContext(&saved_user, &saved_context);
		for (int i = from; i < to; ++i) {
			SetUserIdAndSecContext(pending[i].role, saved_context | SECURITY_LOCAL_USERID_CHANGE);
			Oid types[1] = {TEXTOID};
			Datum values[1] = {PointerGetDatum(pending[i].record)};
			int rc =
			    SPI_execute_with_args("SELECT elicense._audit_insert($1::jsonb)", 1, types, values, nullptr, false, 1);
			if (rc != SPI_OK_SELECT || SPI_processed != 1)
				ereport(ERROR,
				        (errcode(ERRCODE_INTERNAL_ERROR), errmsg("elicense._audit_insert returned no row (%d)", rc)));
			bool isnull = true;
			Datum d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
			pending[i].id = isnull ? 0 : DatumGetInt64(d);
			SetUserIdAndSecContext(saved_user, saved_context);
		}
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();  // synchronous_commit is on: the rows are on disk
		committed = true;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(work);
		ErrorData *e = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();  // also restores the user id
		snprintf(sqlstate, sizeof(sqlstate), "%s", unpack_sql_state(e->sqlerrcode));
		snprintf(error, sizeof(error), "%s", e->message != nullptr ? e->message : "");
	}
	PG_END_TRY();
	pgstat_report_activity(STATE_IDLE, nullptr);
	for (int i = from; i < to; ++i) {
		if (!committed)
			pending[i].id = 0;
		snprintf(pending[i].sqlstate, sizeof(pending[i].sqlstate), "%s", committed ? "" : sqlstate);
		snprintf(pending[i].error, sizeof(pending[i].error), "%s", committed ? "" : error);
	}
	return committed;
}

// Writes the records of the entries taken; each outcome goes into its
// mailbox. A batch whose transaction fails is written again record by record,
// so that one bad record refuses only its own call. Never raises.
void WriteBatch(AuditShared *s, const QueueEntry *entries, int count, MemoryContext work) {
	MemoryContext old = MemoryContextSwitchTo(work);
	Pending *pending = static_cast<Pending *>(palloc0(sizeof(Pending) * count));
	int n = 0;
	for (int i = 0; i < count; ++i) {
		dsm_segment *seg = dsm_attach(entries[i].mailbox);
		if (seg == nullptr)
			continue;  // the session ended and its mailbox is gone
		AuditMailbox *box = static_cast<AuditMailbox *>(dsm_segment_address(seg));
		SpinLockAcquire(&s->mutex);
		bool valid = box->state == kSubmitted && box->length <= kMaxAuditRecordBytes;
		if (valid)
			box->state = kTaken;
		SpinLockRelease(&s->mutex);
		if (!valid) {
			dsm_detach(seg);
			continue;
		}
		pending[n].entry = entries[i];
		pending[n].segment = seg;
		pending[n].box = box;
		pending[n].record = cstring_to_text_with_len(box->record, static_cast<int>(box->length));
		pending[n].role = box->role;
		++n;
	}
	if (n > 0 && !InsertInOneTransaction(pending, 0, n, work) && n > 1)
		for (int i = 0; i < n; ++i)
			InsertInOneTransaction(pending, i, i + 1, work);
	for (int i = 0; i < n; ++i) {
		Pending &p = pending[i];
		if (p.id <= 0) {
			if (p.sqlstate[0] == '\0')
				snprintf(p.sqlstate, sizeof(p.sqlstate), "XX000");
			// The record is not logged: it holds personal data.
			ereport(LOG, (errmsg("elicense audit writer: a usage audit row was not written (SQLSTATE %s): %s",
			                     p.sqlstate, p.error)));
		}
		SpinLockAcquire(&s->mutex);
		if (p.box->state == kTaken) {
			p.box->id = p.id;
			memcpy(p.box->sqlstate, p.sqlstate, sizeof(p.box->sqlstate));
			memcpy(p.box->error, p.error, sizeof(p.box->error));
			p.box->state = p.id > 0 ? kWritten : kFailed;
		}
		SpinLockRelease(&s->mutex);
		dsm_detach(p.segment);
		WakeProc(p.entry.requester);
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(work);
}

}  // namespace

// Main of a database's audit writer: takes the queued records, up to
// kAuditBatch per transaction, until idle for kAuditWriterIdleMs or SIGTERM.
void elicense_audit_worker_main(Datum arg) {
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	// Connected as the bootstrap superuser: the definer role each record is
	// written as may be NOLOGIN, which PostgreSQL 15 refuses for a worker's
	// connection; each INSERT runs as that role (InsertInOneTransaction).
	BackgroundWorkerInitializeConnectionByOid(DatumGetObjectId(arg), InvalidOid, 0);
	// A DBA's synchronous_commit = off must not make audit rows losable.
	SetConfigOption("synchronous_commit", "on", PGC_SUSET, PGC_S_OVERRIDE);

	AuditShared *s = Shared();
	if (!ClaimSlot(s))
		proc_exit(0);  // another writer serves this database
	before_shmem_exit(ReleaseSlot, 0);
	MemoryContext work = AllocSetContextCreate(TopMemoryContext, "elicense audit writer", ALLOCSET_DEFAULT_SIZES);

	TimestampTz last_work = GetCurrentTimestamp();
	for (;;) {
		CHECK_FOR_INTERRUPTS();
		QueueEntry entries[kAuditBatch];
		bool idle_long = TimestampDifferenceExceeds(last_work, GetCurrentTimestamp(), kAuditWriterIdleMs);
		int taken = TakeEntries(s, entries, kAuditBatch, idle_long);
		if (taken > 0) {
			WriteBatch(s, entries, taken, work);
			last_work = GetCurrentTimestamp();
			continue;
		}
		if (idle_long)
			break;  // the slot is already free
		int rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 200, PG_WAIT_EXTENSION);
		if (rc & WL_LATCH_SET)
			ResetLatch(MyLatch);
	}
	proc_exit(0);
}
