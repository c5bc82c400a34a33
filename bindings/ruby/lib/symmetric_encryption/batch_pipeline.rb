# frozen_string_literal: true

module SymmetricEncryption
  module Batch
    # A large batch in pieces of PIECE values, with the Ruby work overlapping the library's.
    #
    # Joining a million Strings and splitting the results back into a million Strings is Ruby
    # work that holds the GVL, and takes about as long as the library's own work on two cores.
    # Done in one piece, the two run one after the other. Here, while piece i is in the library
    # (its call runs on a Ruby thread of its own and releases the GVL), this thread joins piece
    # i + 1 and then splits the results of piece i - 1. One piece is in the library at a time,
    # on one thread fewer than the call may use (this thread is the other one), so `threads`
    # still bounds the threads a call keeps busy; with a limit of 1 there is no pipeline.
    #
    # Results, failures and their messages (with indexes into the whole batch) are those of a
    # batch in one piece. A piece that does not join (other types, mixed encodings, NUL inside
    # a value) goes by offsets, in its turn, on this thread.
    # @api private
    module Pipeline
      # Values per piece: small enough that the first join and the last split (which overlap
      # nothing) are a small share of a large batch, large enough that a piece's thread and
      # library call cost little beside its work.
      PIECE = 65_536

      # A piece of the batch: where it starts, its values, their join, the thread running its
      # library call (nil once it has ended), and the batch that call made (nil once added).
      Piece = Struct.new(:base, :values, :data, :nils, :thread, :batch)

      module_function

      # The threads a pipelined call of `values` may keep busy (see `limit`), or nil when
      # `values` is not worth pipelining: it needs two pieces or more, a library with the
      # joined-values calls, and room for at least two threads (`threads`: the caller's limit,
      # 0 for the default).
      def limit_for(values, threads)
        return unless values.size >= 2 * PIECE && JOINED

        n = limit(threads)
        n if n >= 2
      end

      # The most threads a call may keep busy, as the library resolves it
      # (se_batch_thread_limit): `threads`, else SYMMETRIC_ENCRYPTION_THREADS, else the CPUs
      # this process may use (its affinity and cgroup quota). 1 with an older library.
      # @raise [InvalidArgument] SYMMETRIC_ENCRYPTION_THREADS is not a positive number
      def limit(threads)
        return 1 unless Native.available?(:se_batch_thread_limit)

        out = FFI::MemoryPointer.new(:size_t)
        status = Native.se_batch_thread_limit(threads, out)
        Native.raise_error(status) unless status == Native::OK
        out.read(:size_t)
      end

      # As Batch.run; `limit` from `limit_for`.
      def run(ctx, values, opts, encoding, threads, limit)
        in_library = limit - 1
        results = []
        failed = []
        # Every piece started and not yet added: whatever happens (the library refuses a piece,
        # an interrupt), each one's call is waited for and what it made is freed.
        live = []
        previous = nil
        (0...values.size).step(PIECE) do |base|
          piece = Piece.new(base, values[base, PIECE])
          piece.data, piece.nils = Batch.joinable(piece.values)
          wait(previous, opts) if previous
          if piece.data
            live << piece
            start(piece, ctx, opts, in_library)
          end
          if previous
            add(results, failed, previous, ctx, opts, encoding, threads)
            live.delete(previous)
          end
          # A piece that does not join goes by offsets, now (the one before it is in the results).
          add(results, failed, piece, ctx, opts, encoding, threads) unless piece.data
          previous = piece.data ? piece : nil
        end
        if previous
          wait(previous, opts)
          add(results, failed, previous, ctx, opts, encoding, threads)
          live.delete(previous)
        end
        [results, failed]
      ensure
        live&.each { |piece| abandon(piece, opts) }
      end

      # Starts the library call of `piece` on a thread of its own and returns once it has
      # begun (and released the GVL). The thread ends with [:ok, batch] or [:error, exception]
      # rather than raising: an application's Thread.abort_on_exception would otherwise
      # re-raise the error in the main thread, wherever it is.
      def start(piece, ctx, opts, threads)
        entered = false
        piece.thread = Thread.new do
          entered = true
          [:ok, Batch.call_joined(ctx, piece.data, piece.values.size, opts, threads, blocking: true)]
        rescue StandardError => e
          [:error, e]
        end
        # The new thread needs the GVL to reach its call. Without handing it over here, it would
        # wait until this thread blocks (or for Ruby's 100 ms time slice), and the pieces would
        # run one after the other instead of overlapping.
        Thread.pass until entered || !piece.thread.alive?
      end

      # Waits for the library call of `piece`: its batch in `piece.batch`, or its error raised.
      def wait(piece, opts)
        outcome, value = piece.thread.value
        piece.thread = nil
        Batch.wipe(piece.data) if opts
        raise value unless outcome == :ok

        piece.batch = value
      end

      # After an exception: lets the call of `piece` end, and frees what it made.
      def abandon(piece, opts)
        if piece.thread
          outcome, value = piece.thread.value
          piece.thread = nil
          piece.batch = value if outcome == :ok
          Batch.wipe(piece.data) if opts
        end
        batch = piece.batch
        piece.batch = nil
        Native.se_batch_free(batch) if batch
      end

      # Appends the results and failures of `piece`: from its joined batch (freed here), or,
      # when there is none or the library counted other values than it has, by offsets.
      def add(results, failed, piece, ctx, opts, encoding, threads)
        batch = piece.batch
        piece.batch = nil
        count = piece.values.size
        part = batch && Batch.collect_joined(batch, count, encoding, opts.nil?, piece.nils, piece.base)
        part ||= Batch.run_offsets(ctx, piece.values, opts, encoding, threads, base: piece.base)
        part_results, part_failed = part
        part_failed.each { |i| failed << (piece.base + i) }
        results.concat(part_results)
      end
    end
  end
end
