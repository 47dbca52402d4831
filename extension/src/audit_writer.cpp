// Autonomous audit writer for the sharing functions (70_sharing.sql).
//
// A refused request raises an error, and the error aborts the caller's
// transaction: an audit row INSERTed in that transaction would vanish with it.
// A successful read inside a transaction the caller later rolls back would
// vanish too. So every usage_audit row is written by a separate process, in
// its own transaction, and the backend waits until it is committed:
//
//   backend (SQL function _audit_autonomous(text))      audit writer (bgworker)
//     first call: dsm_create, two shm_mq, start a  --->  attach, connect to the
//     dynamic background worker for this session         same database as the
//                                                        extension owner
//     send the audit record (JSON text)            --->  INSERT via elicense._audit_insert
//                                                        in its own transaction, COMMIT
//     wait for the answer (the new row's id)       <---  send the id
//
// One worker per session, kept while the session lives (the worker exits when
// the backend detaches from the queue). If no worker slot is free
// (max_worker_processes) or the worker dies, the function returns NULL and the
// SQL side falls back to an INSERT in the caller's transaction plus a LOG line.
//
// This file is plain C-style PostgreSQL API code with no C++ objects: waits
// may raise PostgreSQL errors (query cancel), which is safe here because no
// destructor is live in any frame (STYLE.md 3.1 rule 5); nothing here throws.

#include "pg_prelude.hpp"

extern "C" {
#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "storage/shm_mq.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
}

namespace {

// Segment layout: header, then the request queue, then the answer queue.
struct AuditShared {
	Oid database;
	Oid role;
};
constexpr Size kHeaderSize = MAXALIGN(sizeof(AuditShared));
constexpr Size kRequestQueueSize = 64 * 1024;  // audit records are small JSON objects
constexpr Size kAnswerQueueSize = 1024;        // answers are row ids
constexpr Size kSegmentSize = kHeaderSize + kRequestQueueSize + kAnswerQueueSize;

// This session's writer (backend side), all in TopMemoryContext.
dsm_segment *session_segment = nullptr;
shm_mq_handle *session_requests = nullptr;
shm_mq_handle *session_answers = nullptr;
BackgroundWorkerHandle *session_worker = nullptr;
Oid session_role = InvalidOid;

void ForgetWriter() {
	if (session_worker != nullptr)
		TerminateBackgroundWorker(session_worker);
	if (session_segment != nullptr)
		dsm_detach(session_segment);  // also detaches both queues
	session_segment = nullptr;
	session_requests = nullptr;
	session_answers = nullptr;
	session_worker = nullptr;
	session_role = InvalidOid;
}

// Starts this session's writer. False when no worker slot or DSM segment is free.
bool StartWriter(Oid role) {
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	dsm_segment *seg = dsm_create(kSegmentSize, DSM_CREATE_NULL_IF_MAXSEGMENTS);
	if (seg == nullptr) {
		MemoryContextSwitchTo(old);
		return false;
	}
	char *base = static_cast<char *>(dsm_segment_address(seg));
	AuditShared *shared = reinterpret_cast<AuditShared *>(base);
	shared->database = MyDatabaseId;
	shared->role = role;
	shm_mq *requests = shm_mq_create(base + kHeaderSize, kRequestQueueSize);
	shm_mq_set_sender(requests, MyProc);
	shm_mq *answers = shm_mq_create(base + kHeaderSize + kRequestQueueSize, kAnswerQueueSize);
	shm_mq_set_receiver(answers, MyProc);

	BackgroundWorker worker;
	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "elicense");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "elicense_audit_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "elicense audit writer for PID %d", MyProcPid);
	snprintf(worker.bgw_type, BGW_MAXLEN, "elicense audit writer");
	worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(seg));
	worker.bgw_notify_pid = MyProcPid;

	BackgroundWorkerHandle *handle = nullptr;
	if (!RegisterDynamicBackgroundWorker(&worker, &handle)) {
		dsm_detach(seg);
		MemoryContextSwitchTo(old);
		return false;
	}
	// The segment outlives this transaction: it belongs to the session.
	dsm_pin_mapping(seg);
	session_segment = seg;
	session_worker = handle;
	session_role = role;
	session_requests = shm_mq_attach(requests, seg, handle);
	session_answers = shm_mq_attach(answers, seg, handle);
	MemoryContextSwitchTo(old);

	pid_t pid;
	if (WaitForBackgroundWorkerStartup(handle, &pid) != BGWH_STARTED) {
		ForgetWriter();
		return false;
	}
	return true;
}

// Sends one record and waits for its row id; false if the writer is gone.
bool WriteThroughWriter(const char *record, Size length, int64 *id) {
	if (shm_mq_send(session_requests, length, record, false, true) != SHM_MQ_SUCCESS)
		return false;
	Size n = 0;
	void *data = nullptr;
	if (shm_mq_receive(session_answers, &n, &data, false) != SHM_MQ_SUCCESS)
		return false;
	char buffer[32];
	if (n == 0 || n >= sizeof(buffer))
		return false;
	memcpy(buffer, data, n);
	buffer[n] = '\0';
	*id = strtoll(buffer, nullptr, 10);
	return *id > 0;
}

}  // namespace

// elicense._audit_autonomous(record text) -> bigint: the id of the committed
// usage_audit row, or NULL when no writer is available (the caller falls back).
// Runs as the extension owner (called from SECURITY DEFINER functions only):
// the writer connects as that role.
extern "C" {
PG_FUNCTION_INFO_V1(elicense_audit_autonomous);
PGDLLEXPORT Datum elicense_audit_autonomous(PG_FUNCTION_ARGS);
PGDLLEXPORT void elicense_audit_worker_main(Datum arg);
}

Datum elicense_audit_autonomous(PG_FUNCTION_ARGS) {
	text *record = PG_GETARG_TEXT_PP(0);
	Oid role = GetUserId();
	if (session_segment != nullptr && session_role != role)
		ForgetWriter();
	int64 id = 0;
	// A writer that died since the last call is replaced once.
	for (int attempt = 0; attempt < 2; ++attempt) {
		if (session_segment == nullptr && !StartWriter(role))
			PG_RETURN_NULL();
		if (WriteThroughWriter(VARDATA_ANY(record), VARSIZE_ANY_EXHDR(record), &id))
			PG_RETURN_INT64(id);
		ForgetWriter();
	}
	PG_RETURN_NULL();
}

// Main of the audit writer: one transaction per record, answers with the id.
// An error in the INSERT ends the worker (ERROR is FATAL without a handler);
// the backend then sees the queue detached and falls back.
void elicense_audit_worker_main(Datum arg) {
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	CurrentResourceOwner = ResourceOwnerCreate(nullptr, "elicense audit writer");
	dsm_segment *seg = dsm_attach(DatumGetUInt32(arg));
	if (seg == nullptr)
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
		                errmsg("elicense audit writer: the backend's shared memory segment is gone")));
	dsm_pin_mapping(seg);
	char *base = static_cast<char *>(dsm_segment_address(seg));
	AuditShared *shared = reinterpret_cast<AuditShared *>(base);
	shm_mq *requests = reinterpret_cast<shm_mq *>(base + kHeaderSize);
	shm_mq *answers = reinterpret_cast<shm_mq *>(base + kHeaderSize + kRequestQueueSize);
	shm_mq_set_receiver(requests, MyProc);
	shm_mq_set_sender(answers, MyProc);
	shm_mq_handle *in = shm_mq_attach(requests, seg, nullptr);
	shm_mq_handle *out = shm_mq_attach(answers, seg, nullptr);

	BackgroundWorkerInitializeConnectionByOid(shared->database, shared->role, 0);

	for (;;) {
		Size n = 0;
		void *data = nullptr;
		if (shm_mq_receive(in, &n, &data, false) != SHM_MQ_SUCCESS)
			break;  // the backend has gone
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		// Copy out of the ring buffer before anything else can reuse it.
		text *record = cstring_to_text_with_len(static_cast<const char *>(data), static_cast<int>(n));
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, "elicense audit writer: INSERT INTO elicense.usage_audit");
		Oid types[1] = {TEXTOID};
		Datum values[1] = {PointerGetDatum(record)};
		int rc = SPI_execute_with_args("SELECT elicense._audit_insert($1::jsonb)::text", 1, types, values, nullptr,
		                               false, 1);
		if (rc != SPI_OK_SELECT || SPI_processed != 1)
			ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("elicense audit writer: INSERT failed (%d)", rc)));
		char *id = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		char answer[32];
		snprintf(answer, sizeof(answer), "%s", id != nullptr ? id : "0");
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		pgstat_report_activity(STATE_IDLE, nullptr);
		if (shm_mq_send(out, strlen(answer), answer, false, true) != SHM_MQ_SUCCESS)
			break;
	}
	proc_exit(0);
}
