# frozen_string_literal: true

# A stand-in for the minitest-stub_any_instance gem (not packaged by Debian), for
# scripts/gem-tests: Klass.stub_any_instance(:name, value_or_callable) { ... } replaces an
# instance method of every instance for the block.
class Module
  def stub_any_instance(name, value_or_callable)
    original = instance_method(name) if method_defined?(name) || private_method_defined?(name)
    had_own = instance_methods(false).include?(name) || private_instance_methods(false).include?(name)
    define_method(name) do |*args, **kwargs, &blk|
      if value_or_callable.respond_to?(:call)
        value_or_callable.call(*args, **kwargs, &blk)
      else
        value_or_callable
      end
    end
    yield
  ensure
    if had_own && original
      define_method(name, original)
    else
      remove_method(name)
    end
  end
end
